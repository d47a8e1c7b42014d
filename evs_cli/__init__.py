"""evs: refine AI-generated video with a T2I and a T2V diffusion model (EVS, Su et al.).

The Python API, for notebooks (the CLI is built on the same pieces):

    import torch
    from evs_cli import Engine, load_models, load_preset

    preset = load_preset("vc2")                       # or a YAML path; .with_overrides([...]) to change keys
    models = load_models(preset.t2i_model, preset.t2v_model, device="cuda", dtype=torch.bfloat16)
    engine = Engine(models, preset)
    refined, report = engine.refine(frames, "a corgi running on the beach", seed=0)
    # frames, refined: uint8 tensors (F, H, W, 3), sides multiples of 64; report: a RefineReport
    # (.seconds per phase, .stages, .calls per model)

`engine.refine_latents(x0, prompt, seed=...)` works on VAE latents directly.

The package is layered, lowest first; a module imports only from its own layer and those below it
(tests/test_layers.py checks this):

    errors   the one exception family every layer raises
    engine/  the method: grids, steps, stages, Algorithm 1, SFI, windows, model loading, presets, Engine
    io/      video decode/encode, input discovery, prompts
    eval/    metrics, VBench/DOVER networks, evaluate, compare
    batch/   a run planned once (plan), dispatched to local workers or Ray (dispatch, ledger, events),
             the per-video job and state, outputs and claims, progress and logs
    toy/     the toy world and the tiny test models
    cli/     the `evs` command: argument parsing and printing only
"""

from .version import __version__  # noqa: E402,F401

# Where each public name lives. Imported on first use (PEP 562), so that `evs --version`, `--help` and
# usage errors do not pay for importing torch and diffusers.
_EXPORTS = {
    "ModelSet": "engine.models", "load_models": "engine.models", "Engine": "engine.pipeline",
    "resize": "engine.pipeline", "Preset": "engine.preset", "list_presets": "engine.preset",
    "load_preset": "engine.preset", "parse_override": "engine.preset", "Injection": "engine.stages",
    "ScheduleParams": "engine.stages", "Stage": "engine.stages", "build_stages": "engine.stages",
    "count_calls": "engine.stages", "ConfigError": "errors", "EvsError": "errors", "read_video": "io.video",
    "target_size": "io.video", "write_mp4": "io.video",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'evs_cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
