"""A preset's models on one device, loaded once per worker: the one place refine's and tune's workers load them."""

from __future__ import annotations

from pathlib import Path


def load_model_set(preset, device: str, compile_cache: Path | None = None):
    """(models, dtype name): a preset's models loaded on `device` once, in the dtype it resolves to there, its
    LoRAs in, the compile cache in use when it compiles, and sped up as its runtime says. Every worker, refine's
    and tune's, loads its models here."""
    from ...engine.loaders.models import load_models, parse_dtype, resolve_dtype
    from ...engine.runtime.compile_cache import use_compile_cache
    from ...engine.runtime.speed import speed_up

    dtype = resolve_dtype(preset.dtype, device)
    models = load_models(preset.t2i_model, preset.t2v_model, device, parse_dtype(dtype), preset.tokenizer,
                         preset.vae_model, (preset.t2i.loras, preset.t2v.loras))
    if preset.compile:
        use_compile_cache(compile_cache, device)
    speed_up(models, compile=preset.compile, vae_layout=preset.vae_layout)
    return models, dtype
