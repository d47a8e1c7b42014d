"""The engine: frames in, refined frames out, for one loaded ModelSet.

    from evs_cli import Engine, load_models, load_preset
    preset = load_preset("vc2")
    models = load_models(preset.t2i_model, preset.t2v_model, device="cuda", dtype=torch.float16)
    engine = Engine(models, preset)
    frames_out, report = engine.refine(frames, "a red car driving", seed=0)   # frames: uint8 (F, H, W, 3)
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..errors import EvsError
from .denoisers import Prompt, T2IDenoiser, T2VDenoiser
from .diffusion import Grid
from .schedule import NoiseFn, run_schedule, seeded_noise
from .stages import Stage, build_stages, count_calls


@dataclass
class ModelOptions:
    """How one model is sampled: its scheduler (class + overrides of the T2I model's config), steps, CFG."""

    scheduler: str
    scheduler_config: dict = field(default_factory=dict)
    steps: int = 50
    guidance: float = 1.0
    negative_prompt: str = ""


def preset_grids(preset, scheduler_config: dict) -> dict[str, Grid]:
    """Each model's grid: the preset's scheduler class and overrides on the T2I model's scheduler config."""
    import diffusers

    grids = {}
    for model in ("t2i", "t2v"):
        opts = getattr(preset, model)
        cls = getattr(diffusers, opts.scheduler, None)
        if cls is None or not hasattr(cls, "set_timesteps"):
            raise EvsError(f"{model}.scheduler: unknown scheduler class {opts.scheduler!r}")
        grids[model] = Grid.from_scheduler(cls.from_config(scheduler_config, **opts.scheduler_config), opts.steps)
    return grids


class Engine:
    def __init__(self, models, preset):
        self.models = models
        self.preset = preset
        self.grids = preset_grids(preset, models.scheduler_config)
        self.stages: list[Stage] = build_stages(preset.schedule_params())
        self._prompts: dict[tuple[str, str], torch.Tensor] = {}
        self.resolve_layers()

    def resolve_layers(self) -> None:
        """Fail now, not mid-video, if an injected layer name matches nothing in the loaded UNet."""
        from .sfi import select_modules

        for s in self.stages:
            if s.injection is not None:
                unet = self.models.motion_unet if s.model == "t2v" else self.models.unet
                if s.injection.layers:
                    select_modules(unet, s.injection.layers, "attn")
                if s.injection.resnet_layers:
                    select_modules(unet, s.injection.resnet_layers, "resnet")

    # -- text ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, text: str) -> torch.Tensor:
        if text not in self._prompts:
            tok = self.models.tokenizer
            ids = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids.to(self.models.device)
            self._prompts[text] = self.models.text_encoder(ids)[0].to(self.models.dtype)
        return self._prompts[text]

    def denoisers(self, prompt: str) -> dict:
        p, m = self.preset, self.models
        cond = self.embed(prompt)
        t2i = T2IDenoiser(m.unet, self.grids["t2i"], Prompt(cond, self.embed(p.t2i.negative_prompt)),
                          p.t2i.guidance, chunk=p.t2i_chunk)
        t2v = T2VDenoiser(m.motion_unet, self.grids["t2v"], Prompt(cond, self.embed(p.t2v.negative_prompt)),
                          p.t2v.guidance, window=p.t2v_window, overlap=p.t2v_overlap)
        return {"t2i": t2i, "t2v": t2v}

    # -- VAE ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (F, H, W, 3) -> clean latents (F, 4, H/8, W/8), float32, in chunks of vae_chunk frames."""
        vae, chunk = self.models.vae, self.preset.vae_chunk
        out = []
        for s in range(0, frames.shape[0], chunk):
            x = frames[s : s + chunk].to(self.models.device).permute(0, 3, 1, 2).to(vae.dtype) / 127.5 - 1.0
            out.append(vae.encode(x).latent_dist.mode().float() * vae.config.scaling_factor)
        return torch.cat(out)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Clean latents -> uint8 (F, H, W, 3) on the CPU."""
        vae, chunk = self.models.vae, self.preset.vae_chunk
        out = []
        for s in range(0, latents.shape[0], chunk):
            x = vae.decode((latents[s : s + chunk] / vae.config.scaling_factor).to(vae.dtype)).sample
            out.append(((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu())
        return torch.cat(out)

    # -- refinement ---------------------------------------------------------------------------------
    @torch.no_grad()
    def refine_latents(self, x0: torch.Tensor, prompt: str, seed: int = 0, noise: NoiseFn | None = None,
                       on_stage=None):
        noise = noise or seeded_noise(seed, x0.device)
        return run_schedule(x0, self.stages, self.denoisers(prompt), noise, on_stage)

    def refine(self, frames: torch.Tensor, prompt: str, seed: int = 0, on_stage=None):
        """uint8 frames (F, H, W, 3) -> (refined uint8 frames, report with seconds and calls per phase)."""
        seconds: dict[str, float] = {}
        with _timed(seconds, "encode", self.models.device):
            x0 = self.encode(frames)
        with _timed(seconds, "stages", self.models.device):
            x0, stages = self.refine_latents(x0, prompt, seed, on_stage=on_stage)
        with _timed(seconds, "decode", self.models.device):
            out = self.decode(x0)
        report = {"seconds": seconds, "stages": [s.as_dict() for s in stages],
                  "calls": {k: sum(s.calls for s in stages if s.model == k) for k in ("t2i", "t2v")},
                  "inversion_calls": sum(s.inversion_calls for s in stages),
                  "expected_calls": count_calls(self.stages)}
        return out, report


@contextmanager
def _timed(seconds: dict, name: str, device):
    """Wall time of the block into seconds[name]; CUDA work is waited for so the time is the GPU's too."""
    start = time.perf_counter()
    yield
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    seconds[name] = time.perf_counter() - start
