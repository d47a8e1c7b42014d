"""The engine: frames in, refined frames out, for one loaded ModelSet.

    from evs_cli import Engine, load_models, load_preset
    preset = load_preset("vc2")
    models = load_models(preset.t2i_model, preset.t2v_model, device="cuda", dtype=torch.bfloat16)
    engine = Engine(models, preset)
    frames_out, report = engine.refine(frames, "a red car driving", seed=0)   # frames: uint8 (F, H, W, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError, EvsError, first_line
from .denoisers import Prompt, T2IDenoiser, T2VDenoiser
from .diffusion import Grid
from .runtime.speed import attention_kernel
from .schedule import NoiseFn, StageReport, fill_seconds, run_schedule, seeded_noise
from .stages import Stage, build_stages, count_calls
from .timing import Clock

# VAE activations at full resolution: about 768 values per pixel per frame are alive at once (the last
# up block's 256-channel upsample and its convolutions). The budget keeps VC2 (640x1024) within 16 GB.
VAE_VALUES_PER_PIXEL = 768
VAE_BUDGET_BYTES = 4 * 2**30


def preset_grids(preset, scheduler_config: dict) -> dict[str, Grid]:
    """Each model's grid: the preset's scheduler class and overrides on the T2I model's scheduler config.
    A class diffusers does not have, a setting it does not take or a value it rejects is a ConfigError
    naming the preset key."""
    import inspect

    import diffusers

    grids = {}
    for model in ("t2i", "t2v"):
        opts = getattr(preset, model)
        cls = getattr(diffusers, opts.scheduler, None)
        if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
            raise ConfigError(f"{model}.scheduler: {opts.scheduler!r} is not a diffusers scheduler (e.g. "
                              "DDIMScheduler, EulerDiscreteScheduler, DPMSolverMultistepScheduler)")
        takes = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(opts.scheduler_config) - takes)
        if unknown:  # diffusers would only warn and ignore a misspelt key
            raise ConfigError(f"{model}.scheduler_config: {opts.scheduler} has no setting {unknown[0]!r} (it has: "
                              f"{', '.join(sorted(takes - {'kwargs'}))})")
        try:
            grids[model] = Grid.from_scheduler(cls.from_config(scheduler_config, **opts.scheduler_config), opts.steps)
        except Exception as e:  # noqa: BLE001 - whatever the constructor raises, the user's value caused it
            text = first_line(e)
            raise ConfigError(f"{model}.scheduler_config {opts.scheduler_config}: {opts.scheduler} with "
                              f"{opts.steps} steps rejects it ({text})") from None
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

        def uncond(opts):  # a model sampled without guidance never sees its negative prompt
            return self.embed(opts.negative_prompt) if opts.guidance != 1.0 else None

        t2i = T2IDenoiser(m.unet, self.grids["t2i"], Prompt(cond, uncond(p.t2i)), p.t2i.guidance,
                          p.t2i.guidance_interval, loras=m.loras, chunk=p.t2i_chunk)
        t2v = T2VDenoiser(m.motion_unet, self.grids["t2v"], Prompt(cond, uncond(p.t2v)), p.t2v.guidance,
                          p.t2v.guidance_interval, loras=m.loras, window=p.t2v_window, overlap=p.t2v_overlap)
        return {"t2i": t2i, "t2v": t2v}

    # -- VAE ----------------------------------------------------------------------------------------
    def vae_chunk(self, height: int, width: int) -> int:
        """Frames per VAE pass: the preset's number, or with `auto` the most whose activations fit the budget."""
        chunk = self.preset.vae_chunk
        if chunk != "auto":
            return chunk
        if self.models.device.type != "cuda":
            return 8
        free, _ = torch.cuda.mem_get_info(self.models.device)
        budget = min(VAE_BUDGET_BYTES, free // 4)
        per_frame = VAE_VALUES_PER_PIXEL * height * width * self.models.vae.dtype.itemsize
        return max(1, budget // per_frame)

    @torch.no_grad()
    def encode(self, frames: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """uint8 (F, H, W, 3), resized on the device to `size` (W, H) if given -> clean latents (F, 4, H/8, W/8)."""
        vae = self.models.vae
        w, h = size or (frames.shape[2], frames.shape[1])
        chunk = self.vae_chunk(h, w)
        out = []
        for s in range(0, frames.shape[0], chunk):
            x = resize(frames[s : s + chunk].to(self.models.device, non_blocking=True), w, h)
            x = x.permute(0, 3, 1, 2).to(vae.dtype) / 127.5 - 1.0
            out.append(vae.encode(x).latent_dist.mode().float() * vae.config.scaling_factor)
        return torch.cat(out)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Clean latents -> uint8 (F, H, W, 3) on the CPU, resized on the device to `size` (W, H) if given,
        copied back once, after the last chunk."""
        vae = self.models.vae
        chunk = self.vae_chunk(latents.shape[2] * 8, latents.shape[3] * 8)
        out = []
        for s in range(0, latents.shape[0], chunk):
            x = vae.decode((latents[s : s + chunk] / vae.config.scaling_factor).to(vae.dtype)).sample
            x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
            out.append(resize(x, *size) if size else x)
        return torch.cat(out).cpu()

    # -- refinement ---------------------------------------------------------------------------------
    @torch.no_grad()
    def refine_latents(self, x0: torch.Tensor, prompt: str, seed: int = 0, noise: NoiseFn | None = None,
                       on_stage=None, clock: Clock | None = None):
        ahead = sum(s.mode == "sdedit" for s in self.stages) + sum(  # and an LCM stage's re-noising
            s.calls - 1 for s in self.stages if self.grids[s.model].sampler == "lcm")
        noise = noise or seeded_noise(seed, x0.device, tuple(x0.shape), ahead)
        models = self.denoisers(prompt)
        for d in models.values():  # timesteps and blend weights on the device before the first call
            d.prepare(x0.device, x0.shape[0])
        with attention_kernel(self.preset.attention):
            return run_schedule(x0, self.stages, models, noise, on_stage, clock)

    def refine(self, frames: torch.Tensor, prompt: str, seed: int = 0, on_stage=None,
               size: tuple[int, int] | None = None, out_size: tuple[int, int] | None = None):
        """uint8 frames (F, H, W, 3) -> (refined uint8 frames, report with seconds and calls per phase).

        `size` (W, H), sides multiples of 8 (64 for the UNets' skips): the working size, resized to on the
        device first; `out_size` (W, H): the size the refined frames are resized to on the device after
        decoding (default: the working size). The device is waited for once, when the frames come back.
        """
        clock = Clock(self.models.device)
        with clock.span("encode"):
            x0 = self.encode(frames, size)
        with clock.span("stages"):
            x0, stages = self.refine_latents(x0, prompt, seed, on_stage=on_stage, clock=clock)
        with clock.span("decode"):
            out = self.decode(x0, out_size)
        seconds = clock.resolve()
        fill_seconds(stages, seconds)
        if not torch.isfinite(x0).all():
            raise EvsError("the refined latents are not finite (NaN or inf): the models or settings diverged")
        report = RefineReport(seconds={k: seconds[k] for k in ("encode", "stages", "decode")}, stages=stages,
                              calls={k: sum(s.calls for s in stages if s.model == k) for k in ("t2i", "t2v")},
                              inversion_calls=sum(s.inversion_calls for s in stages),
                              expected_calls=count_calls(self.stages))
        return out, report


@dataclass
class RefineReport:
    """What one refinement did: seconds per phase (encode, stages, decode), each stage's report, model calls."""

    seconds: dict[str, float]
    stages: list[StageReport]
    calls: dict[str, int]  # denoising calls per model
    inversion_calls: int
    expected_calls: dict[str, int]  # what stages.count_calls predicts


def resize(frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> uint8 (F, height, width, 3), bicubic with antialiasing, on the frames' device."""
    if frames.shape[2] == width and frames.shape[1] == height:
        return frames
    x = frames.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
