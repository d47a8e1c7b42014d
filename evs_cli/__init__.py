"""evs: refine AI-generated video with a T2I and a T2V diffusion model (EVS, Su et al.).

The Python API, for notebooks (the CLI is built on the same pieces):

    import torch
    from evs_cli import Engine, load_models, load_preset

    preset = load_preset("vc2")                       # or a YAML path; .with_overrides([...]) to change keys
    models = load_models(preset.t2i_model, preset.t2v_model, device="cuda", dtype=torch.float16)
    engine = Engine(models, preset)
    refined, report = engine.refine(frames, "a corgi running on the beach", seed=0)
    # frames, refined: uint8 tensors (F, H, W, 3), sides multiples of 64; report: seconds and calls per stage

`engine.refine_latents(x0, prompt, seed=...)` works on VAE latents directly.
"""

from .engine import Engine
from .errors import ConfigError, EvsError
from .models import ModelSet, load_models
from .preset import Preset, list_presets, load_preset, parse_override
from .stages import Injection, ScheduleParams, Stage, build_stages, count_calls
from .video import read_video, resize, target_size, write_mp4

__version__ = "0.1.0"
__all__ = ["Engine", "ConfigError", "EvsError", "ModelSet", "load_models", "Preset", "list_presets", "load_preset",
           "parse_override", "Injection", "ScheduleParams", "Stage", "build_stages", "count_calls", "read_video",
           "resize", "target_size", "write_mp4"]
