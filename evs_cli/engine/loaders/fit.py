"""Whether the models fit each other: the motion module's blocks and widths against the T2I UNet's, and the
VAE's latent channels against what the UNet takes. Read from configs and safetensors headers before any model
loads (where the sources are local), and checked again on the loaded models (hub ids, .ckpt files), so that a
module made for another UNet is one line naming it, what it is and what it does not fit, never a shape error
from PyTorch on every video. No torch here.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import EvsError

# Known UNet shapes, to say what a module was made for.
UNET_FAMILIES = {(320, 640, 1280, 1280): "SD1.5-sized", (320, 640, 1280): "SDXL-sized"}


def adapter_misfit(adapter_widths, unet_widths) -> str | None:
    """What does not fit, or None: the number of blocks, then their widths."""
    a, u = tuple(adapter_widths), tuple(unet_widths)
    if a == u:
        return None
    family = UNET_FAMILIES.get(a)
    if len(a) != len(u):
        made_for = f"{family} UNets ({len(a)} blocks)" if family else f"UNets of {len(a)} blocks (widths {_widths(a)})"
        return f"a motion module for {made_for}; the T2I model has {len(u)}"
    made_for = f"{family} UNets (widths {_widths(a)})" if family else f"UNets of widths {_widths(a)}"
    return f"a motion module for {made_for}; the T2I model's are {_widths(u)}"


def vae_misfit(latent_channels: int, unet_in_channels: int) -> str | None:
    if latent_channels == unet_in_channels:
        return None
    return f"a VAE of {latent_channels} latent channels; the T2I model's UNet takes {unet_in_channels}"


def _widths(widths) -> str:
    return ", ".join(map(str, widths))


def check_loaded(unet_config, adapter_config, vae_config, t2v: str, vae: str | None) -> None:
    """The loaded models' configs (diffusers' FrozenDicts) against each other: EvsError naming the misfit."""
    problem = adapter_misfit(adapter_config["block_out_channels"], unet_config["block_out_channels"])
    if problem:
        raise EvsError(f"T2V motion adapter {t2v!r}: {problem}")
    problem = vae_misfit(vae_config.get("latent_channels", 4), unet_config.get("in_channels", 4))
    if problem:
        raise EvsError(f"VAE {vae or 'of the T2I model'!r}: {problem}")


def check_models(t2i: str, t2v: str, vae: str | None = None, tokenizer: str | None = None,
                 download: bool = True) -> None:
    """Before any model loads: each source's path (sources.check_sources), that each hub model is cached or can
    be downloaded now (`download`: some video needs the models), then whether they fit each other."""
    from .sources import check_downloadable, check_sources, model_roles, resolve_source

    check_sources(t2i, t2v, vae)
    if download:
        check_downloadable(model_roles(t2i, t2v, vae, tokenizer))
    check_local(resolve_source(t2i), resolve_source(t2v), resolve_source(vae) if vae else None)


def check_local(t2i: str, t2v: str, vae: str | None) -> None:
    """The same, from what local sources show without loading (each side unknown, as for a hub id, is skipped)."""
    unet = _unet_config(Path(t2i))
    if unet is None:
        return
    widths = _adapter_widths(Path(t2v))
    problem = widths and adapter_misfit(widths, unet.get("block_out_channels", ()))
    if problem:
        raise EvsError(f"T2V motion adapter {t2v!r}: {problem}")
    latent = _vae_latent_channels(Path(vae)) if vae else None
    problem = latent is not None and vae_misfit(latent, unet.get("in_channels", 4))
    if problem:
        raise EvsError(f"VAE {vae!r}: {problem}")


def _json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable configs are named by the loaders' own checks
    return data if isinstance(data, dict) else None


def _unet_config(t2i: Path) -> dict | None:
    if t2i.is_dir():
        return _json(t2i / "unet" / "config.json")
    if t2i.is_file():  # a single file: the configs beside it, else SD1.5's, as the loader reads them
        from .sources import SD15_CONFIG

        beside = t2i.parent / "unet" / "config.json"
        return _json(beside if beside.is_file() and (t2i.parent / "model_index.json").is_file()
                     else SD15_CONFIG / "unet" / "config.json")
    return None


def _adapter_widths(t2v: Path) -> tuple | None:
    if t2v.is_dir():
        config = _json(t2v / "config.json") or {}
        return tuple(config["block_out_channels"]) if isinstance(config.get("block_out_channels"), list) else None
    if t2v.suffix == ".safetensors" and t2v.is_file():
        from .motion_files import seen_in_weights
        from .sources import safetensors_shapes

        shapes = safetensors_shapes(t2v)
        if any(".motion_modules." in k for k in shapes):
            return seen_in_weights(shapes, t2v)["block_out_channels"]
    return None


def _vae_latent_channels(vae: Path) -> int | None:
    if vae.is_dir():
        config = _json(vae / "config.json") if (vae / "config.json").is_file() else _json(vae / "vae" / "config.json")
        value = (config or {}).get("latent_channels")
        return value if isinstance(value, int) else None
    return None
