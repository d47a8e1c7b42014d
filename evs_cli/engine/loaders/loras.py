"""LoRAs on the two UNets, each switched on only for the stages of the model it was given to.

A LoRA file (kohya/A1111 or diffusers/PEFT, read with diffusers' own `lora_state_dict`, which converts the
former) is loaded once, under its own adapter name, into the UNet it belongs to: `t2i.loras` (`--lora`)
into the T2I UNet, `t2v.loras` into the T2V UNet. Their spatial layers are the same modules (weights stored
once), so a T2V LoRA's spatial part (AnimateLCM's, say) sits in modules the T2I stages run too: before each
stage, `activate` makes exactly that model's LoRAs active, at their scales, in every layer either UNet has
(nothing is merged into the shared weights). A LoRA's text-encoder part, where it has one, stays on: both
models read the same prompt embedding.

Specs are ``FILE`` or ``FILE:SCALE`` (scale 1 by default), checked before any model loads (`parse_spec`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import EvsError, first_line
from ..options import WEIGHT_SUFFIXES, parse_spec  # noqa: F401 - parse_spec is read from here too

_DOWN = re.compile(r"(lora_A|lora[._]down)\.weight$")  # a layer's first matrix, in PEFT's and older namings


def check_lora_files(specs: list) -> None:
    """Every LoRA is a readable weights file: one line naming the first that is not, before any load."""
    for spec in specs:
        path, _ = parse_spec(spec)
        p = Path(path).expanduser()
        if not p.is_file():
            raise EvsError(f"LoRA {path!r} not found: no such file")
        if p.suffix not in WEIGHT_SUFFIXES:
            raise EvsError(f"LoRA {path!r}: a LoRA file must end in {', '.join(WEIGHT_SUFFIXES)}")


class Loras:
    """The LoRAs of both models, loaded into them, and the switch that makes one model's active."""

    def __init__(self, unet, motion_unet, text_encoder, t2i: list, t2v: list):
        self.unets = {"t2i": unet, "t2v": motion_unet}
        self.scales: dict[str, dict[str, float]] = {"t2i": {}, "t2v": {}}
        self.active: str | None = None
        for model, specs in (("t2i", t2i), ("t2v", t2v)):
            for i, spec in enumerate(specs):
                path, scale = parse_spec(spec)
                name = f"{model}-{i}"
                _load(Path(path).expanduser(), name, self.unets[model], text_encoder, model)
                self.scales[model][name] = scale

    def activate(self, model: str) -> None:
        """Only `model`'s LoRAs, at their scales, in every LoRA layer of both UNets (shared or not)."""
        if model == self.active:
            return
        from peft.tuners.tuners_utils import BaseTunerLayer

        on = self.scales[model]
        seen = set()
        for unet in self.unets.values():
            for layer in unet.modules():
                if isinstance(layer, BaseTunerLayer) and id(layer) not in seen:
                    seen.add(id(layer))
                    here = [n for n in on if n in layer.lora_A]
                    layer.set_adapter(here)
                    for n in here:
                        layer.set_scale(n, on[n])
        self.active = model


def _load(path: Path, name: str, unet, text_encoder, model: str) -> None:
    from diffusers import StableDiffusionPipeline

    what = f"LoRA {path} ({'--lora, ' if model == 't2i' else ''}{model}.loras)"
    try:
        state, alphas, meta = StableDiffusionPipeline.lora_state_dict(
            str(path.parent), weight_name=path.name, return_lora_metadata=True)
    except Exception as e:  # noqa: BLE001 - any reader failure is the file's
        raise EvsError(f"{what}: not a LoRA diffusers can read ({first_line(e)})") from e
    modules = [k for k in state if k.startswith("unet.") and _DOWN.search(k)]  # one per layer it adapts
    if not modules:
        raise EvsError(f"{what}: it has no UNet layers (an SDXL or text-encoder-only LoRA?)")
    if meta and "unet.target_modules" in meta:
        # A saved config names its targets by suffix (to_q, ...), which in the T2V UNet also matches the
        # motion modules' attention: peft adapts only the layers in the file but warns of the others at
        # length. Naming exactly the file's layers keeps a run's output to its own lines.
        targets = sorted({k[len("unet."):].rsplit(".lora_", 1)[0] for k in state if k.startswith("unet.")})
        meta = {**meta, "unet.target_modules": targets, "unet.init_lora_weights": True}
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity(diffusers_logging.CRITICAL)  # it logs the error we turn into one line
    try:
        unet.load_lora_adapter({k: v for k, v in state.items() if k.startswith("unet.")}, network_alphas=alphas,
                               adapter_name=name, prefix="unet", metadata=meta)
        if any(k.startswith("text_encoder.") for k in state):
            StableDiffusionPipeline.load_lora_into_text_encoder(state, alphas, text_encoder, prefix="text_encoder",
                                                                adapter_name=name, metadata=meta)
    except Exception as e:  # noqa: BLE001 - a shape that does not fit: another base model's LoRA
        raise EvsError(f"{what}: does not fit the {model.upper()} model ({first_line(e)})") from e
    finally:
        diffusers_logging.set_verbosity(verbosity)
    matched = sum(1 for m in unet.modules() if name in getattr(m, "lora_A", {}))
    if matched < len(modules):
        raise EvsError(f"{what}: {len(modules) - matched} of its {len(modules)} UNet layers are not in the "
                       f"{model.upper()} UNet (a LoRA for another model?)")
    if matched > len(modules):  # peft adapted layers the file has no weights for
        raise EvsError(f"{what}: adapts {matched} layers of the {model.upper()} UNet, but holds {len(modules)}")
