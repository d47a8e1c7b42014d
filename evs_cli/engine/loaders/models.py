"""Load the T2I model, the T2V motion adapter, and build the T2V UNet on the T2I UNet's spatial weights
(what a source is, and the checks that need no loading: sources.py).

Model sources, for both models:
  * a hub id (``emilianJR/epiCRealism``; for an adapter file inside a repo, ``repo:file``), fetched
    into the usual Hugging Face cache and read from there offline once cached (HF_HUB_OFFLINE=1);
  * a local diffusers folder;
  * a single checkpoint file (``.safetensors`` or ``.ckpt``). A single-file T2I checkpoint (original
    LDM layout, as CivitAI-style models ship) is read with the component configs of a diffusers layout
    beside it if there is one, else with the SD1.5 configs shipped in ``evs_cli/configs/sd15``, so no
    network is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import EvsError, first_line
from ..options import DTYPE_ALIASES, DTYPE_NAMES
from .motion_unet import build_motion_unet
from .sources import (
    SD15_CONFIG,
    check_t2i_source,
    check_t2v_source,
    check_vae_source,
    hub_error,
    resolve_source,
    source_kind,
)

_TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPES = {name: _TORCH_DTYPES[short] for name, short in DTYPE_ALIASES.items()}


def parse_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise EvsError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {name!r}") from None


def resolve_dtype(name: str, device) -> str:
    """The dtype name a run computes in. `auto`: bf16 on GPUs with native bf16 (fp32's range, so no fp16
    overflow in attention or the VAE), fp16 on older GPUs, fp32 on the CPU (half kernels are slow there)."""
    if name != "auto":
        parse_dtype(name)
        return {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(name, name)
    device = torch.device(device)
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


@dataclass
class ModelSet:
    """One VAE and one text encoder serve both models; the spatial UNet weights exist once."""

    tokenizer: object
    text_encoder: torch.nn.Module
    vae: torch.nn.Module
    unet: torch.nn.Module  # UNet2DConditionModel (T2I)
    motion_unet: torch.nn.Module  # UNetMotionModel (T2V) whose spatial modules *are* unet's
    scheduler_config: dict  # the T2I model's own scheduler config, base of both grids
    device: torch.device
    dtype: torch.dtype
    loras: object = None  # loras.Loras when the preset gives any: the switch the denoisers call per stage


HALF = (torch.float16, torch.bfloat16)


def from_pretrained(cls, source: str, dtype: torch.dtype, **kw):
    """A model from a diffusers folder or hub repo; in half precision its fp16 variant where it has one
    (``*.fp16.safetensors``: half the download and the disk read), else the full-precision weights."""
    if dtype in HALF:
        try:
            return cls.from_pretrained(source, torch_dtype=dtype, variant="fp16", **kw)
        except (OSError, ValueError):  # no fp16 variant there (or not cached): the full weights
            pass
    return cls.from_pretrained(source, torch_dtype=dtype, **kw)


# A fast tokenizer's tokenizer.json (what transformers 5 saves) or a slow one's vocab.json + merges.txt.
TOKENIZER_FILES = ("tokenizer.json", "vocab.json")


def load_tokenizer(source: str | None, fallback_dirs=()):
    """A CLIP tokenizer from a folder, a hub id, or the first fallback folder that has one."""
    from transformers import CLIPTokenizer

    tried = []
    for cand in ([source] if source else []) + [str(d) for d in fallback_dirs]:
        p = Path(cand).expanduser()
        sub = p / "tokenizer" if (p / "tokenizer").is_dir() else p
        tried.append(str(sub))
        if any((sub / f).is_file() for f in TOKENIZER_FILES):
            return CLIPTokenizer.from_pretrained(str(sub))
    if source and source_kind(source) == "hub":
        try:
            return CLIPTokenizer.from_pretrained(source, subfolder="tokenizer")
        except Exception as e:  # noqa: BLE001 - any hub/cache failure becomes one user-facing line
            raise hub_error("tokenizer", source, e) from e
    raise EvsError("no CLIP tokenizer found (looked for tokenizer.json or vocab.json in "
                   + ", ".join(tried or ["nothing"]) + "); pass --tokenizer with a folder or hub id holding one")


def load_t2i(source: str, dtype: torch.dtype, tokenizer: str | None = None):
    """(tokenizer, text_encoder, vae, unet, scheduler_config) of an SD1.5-family model."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel

    source = resolve_source(source)
    kind = check_t2i_source(source)
    if kind == "file":
        here = Path(source).parent
        # Component configs from a diffusers layout beside the file (a fine-tune's own), else SD1.5's.
        beside = (here / "model_index.json").is_file() and (here / "unet" / "config.json").is_file()
        config = here if beside else SD15_CONFIG
        tok = load_tokenizer(tokenizer, [here, SD15_CONFIG])
        try:
            pipe = StableDiffusionPipeline.from_single_file(
                source, config=str(config), local_files_only=True, torch_dtype=dtype, tokenizer=tok,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        except Exception as e:  # noqa: BLE001
            raise EvsError(f"T2I model {source!r}: not a readable SD1.5 checkpoint ({first_line(e)})") from e
        return pipe.tokenizer, pipe.text_encoder, pipe.vae, pipe.unet, dict(pipe.scheduler.config)
    try:
        unet = from_pretrained(UNet2DConditionModel, source, dtype, subfolder="unet")
        vae = from_pretrained(AutoencoderKL, source, dtype, subfolder="vae")
        text_encoder = from_pretrained(CLIPTextModel, source, dtype, subfolder="text_encoder")
        sched = DDIMScheduler.load_config(source, subfolder="scheduler")  # reads scheduler_config.json
    except EvsError:
        raise
    except Exception as e:  # noqa: BLE001
        if kind == "hub":
            raise hub_error("T2I model", source, e) from e
        raise EvsError(f"T2I model {source!r}: cannot load ({first_line(e)})") from e
    tok = load_tokenizer(tokenizer or source)
    return tok, text_encoder, vae, unet, dict(sched)


def load_motion_adapter(source: str, dtype: torch.dtype):
    """A diffusers MotionAdapter from a folder, a hub id (``repo`` or ``repo:file``) or a weights file.

    A bare weights file, in diffusers' layout (AnimateDiff-Lightning's ``*_diffusers.safetensors``) or the
    original AnimateDiff one (``mm_sd_v15_v2.ckpt``, ``v3_sd15_mm.ckpt``, Lightning's ``*_comfyui``), takes
    its shape from its weights and what they cannot show from a ``config.json`` beside it (motion_files.py).
    """
    from diffusers import MotionAdapter

    source = resolve_source(source)
    kind = check_t2v_source(source)
    if kind == "hub":
        repo, _, filename = source.partition(":")
        try:
            if not filename:
                return from_pretrained(MotionAdapter, repo, dtype)
            from huggingface_hub import hf_hub_download

            source = hf_hub_download(repo, filename)
        except Exception as e:  # noqa: BLE001
            raise hub_error("T2V motion adapter", source, e) from e
    elif kind == "folder":
        try:
            return from_pretrained(MotionAdapter, source, dtype)
        except Exception as e:  # noqa: BLE001
            raise EvsError(f"T2V motion adapter {source!r}: cannot load ({first_line(e)})") from e
    from .motion_files import adapter_from_file

    return adapter_from_file(Path(source), dtype)


def load_vae(source: str, dtype: torch.dtype):
    """An AutoencoderKL from a diffusers folder (its own, or a model folder's vae/), a hub id, or a single
    file in the original LDM layout (vae-ft-mse-840000-ema-pruned.safetensors), read with a config.json
    beside it, else SD1.5's VAE config (every SD1.5 VAE shares it), offline."""
    from diffusers import AutoencoderKL

    source = resolve_source(source)
    kind = check_vae_source(source)
    try:
        if kind == "file":
            here = Path(source).parent
            config = here if (here / "config.json").is_file() else SD15_CONFIG / "vae"
            return AutoencoderKL.from_single_file(source, config=str(config), local_files_only=True,
                                                  torch_dtype=dtype)
        if kind == "folder":
            sub = "vae" if (Path(source) / "vae" / "config.json").is_file() else None
            return from_pretrained(AutoencoderKL, source, dtype, subfolder=sub)
        try:
            return from_pretrained(AutoencoderKL, source, dtype)  # a VAE repo (stabilityai/sd-vae-ft-mse)
        except OSError:
            return from_pretrained(AutoencoderKL, source, dtype, subfolder="vae")  # a model repo's
    except Exception as e:  # noqa: BLE001
        if kind == "hub":
            raise hub_error("VAE", source, e) from e
        raise EvsError(f"VAE {source!r}: cannot load ({first_line(e)})") from e


def load_models(t2i: str, t2v: str, device="cpu", dtype: torch.dtype = torch.float32,
                tokenizer: str | None = None, vae: str | None = None, loras: tuple = ((), ())) -> ModelSet:
    """Both models, on one text encoder and one VAE (`vae`: an external one instead of the T2I model's);
    `loras`: (T2I LoRA specs, T2V LoRA specs), loaded into their UNets and switched per stage."""
    from .fit import check_loaded

    tok, text_encoder, own_vae, unet, sched = load_t2i(t2i, dtype, tokenizer)
    vae_model = load_vae(vae, dtype) if vae else own_vae
    adapter = load_motion_adapter(t2v, dtype)
    check_loaded(unet.config, adapter.config, vae_model.config, t2v, vae)  # sources not seen before loading
    vae = vae_model
    motion = build_motion_unet(unet, adapter)
    switch = None
    if any(loras):
        from .loras import Loras

        switch = Loras(unet, motion, text_encoder, *loras)
    device = torch.device(device)
    for m in (text_encoder, vae, unet, motion):
        m.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return ModelSet(tok, text_encoder, vae, unet, motion, sched, device, dtype, switch)
