"""evs: refine AI-generated video with a T2I and a T2V diffusion model (EVS, Su et al.).

The Python API, for notebooks (the CLI is built on the same pieces):

    import torch
    from evs_cli import Engine, load_models, load_preset

    preset = load_preset("vc2")                       # or a YAML path; .with_overrides([...]) to change keys
    models = load_models(preset.t2i_model, preset.t2v_model, device="cuda", dtype=torch.bfloat16)
    engine = Engine(models, preset)
    refined, report = engine.refine(frames, "a corgi running on the beach", seed=0)
    # frames, refined: uint8 tensors (F, H, W, 3), sides multiples of 64; report: seconds and calls per stage

`engine.refine_latents(x0, prompt, seed=...)` works on VAE latents directly.

The package is layered, lowest first; a module imports only from its own layer and those below it
(tests/test_layers.py checks this):

    errors   the one exception family every layer raises
    engine/  the method: grids, steps, stages, Algorithm 1, SFI, windows, model loading, presets, Engine
    io/      video decode/encode, input discovery, prompts
    eval/    metrics, VBench/DOVER networks, evaluate, compare
    batch/   outputs and claims, the per-video job, the worker pool, progress and logs
    toy/     the toy world and the tiny test models
    cli/     the `evs` command: argument parsing and printing only
"""

from .engine.models import ModelSet, load_models
from .engine.pipeline import Engine, resize
from .engine.preset import Preset, list_presets, load_preset, parse_override
from .engine.stages import Injection, ScheduleParams, Stage, build_stages, count_calls
from .errors import ConfigError, EvsError
from .io.video import read_video, target_size, write_mp4

__version__ = "0.1.0"
__all__ = ["Engine", "ConfigError", "EvsError", "ModelSet", "load_models", "Preset", "list_presets", "load_preset",
           "parse_override", "Injection", "ScheduleParams", "Stage", "build_stages", "count_calls", "read_video",
           "resize", "target_size", "write_mp4"]
