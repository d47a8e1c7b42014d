"""The two models as denoisers: (latent video (F, C, h, w) in DDIM form, timestep) -> model output.

Classifier-free guidance is one batched forward pass ([uncond; cond]); with guidance 1, and at a
timestep outside the model's guidance interval, the unconditional pass is skipped entirely. T2I sees
frames independently and runs them in chunks; T2V sees temporal windows of the motion module's length
and blends their outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .diffusion import Grid
from .options import guided_at
from .sfi import FeatureState
from .windows import blend, blend_weights, plan_windows


@dataclass
class Prompt:
    cond: torch.Tensor  # (1, 77, D)
    uncond: torch.Tensor  # (1, 77, D)


def to_device(x: torch.Tensor, device) -> torch.Tensor:
    """A host tensor on the device, copied from pinned memory without the host waiting (CUDA)."""
    if torch.device(device).type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


@dataclass
class _Denoiser:
    unet: torch.nn.Module
    grid: Grid
    prompt: Prompt
    guidance: float = 1.0
    guidance_interval: list | None = None  # [LOW, HIGH] timesteps where guidance applies (options.guided_at)
    on_device: dict = field(default_factory=dict)  # timestep -> the tensor the UNet gets for it, made ahead
    loras: object = None  # loras.Loras, or None: no LoRA in this run

    def activate(self) -> None:
        """Make this model's LoRAs, and only those, active in the shared UNet layers (once per stage)."""
        if self.loras is not None:
            self.loras.activate(self.name)

    def prepare(self, device, frames: int | None = None) -> None:
        """Every timestep of the grid, on the device, now, as the 1-element int64 tensor diffusers would make
        of a Python number: a call then never waits for a host-to-device copy (diffusers' own copy blocks).
        One copy from pinned memory, not waited for either."""
        if not self.on_device:
            ts = to_device(torch.tensor(self.grid.timesteps, dtype=torch.int64), device)
            self.on_device = {t: ts[i : i + 1] for i, t in enumerate(self.grid.timesteps)}

    def _unet(self, x: torch.Tensor, t: int, frames: int, guided: bool) -> torch.Tensor:
        """One forward pass of `frames` frames; with guidance, uncond and cond batched together."""
        guided = guided and self.guidance != 1.0 and guided_at(self.guidance_interval, t)
        t = self.on_device.get(t, t)
        if guided:
            enc = torch.cat([self.prompt.uncond.expand(frames, -1, -1), self.prompt.cond.expand(frames, -1, -1)])
            u, c = self.unet(torch.cat([x, x]), t, encoder_hidden_states=enc).sample.chunk(2)
            return u + self.guidance * (c - u)
        return self.unet(x, t, encoder_hidden_states=self.prompt.cond.expand(frames, -1, -1)).sample


@dataclass
class T2IDenoiser(_Denoiser):
    """UNet2DConditionModel over frames as a batch of images."""

    chunk: int = 16  # frames per forward pass (x2 with guidance)
    features: FeatureState = field(default_factory=FeatureState)
    name: str = "t2i"

    def __call__(self, z: torch.Tensor, t: int, guided: bool = True) -> torch.Tensor:
        self.features.t = t  # SFI's key for what this call records or injects
        outs = []
        for s in range(0, z.shape[0], self.chunk):
            zc = z[s : s + self.chunk].to(self.unet.dtype)
            self.features.window = s // self.chunk
            outs.append(self._unet(zc, t, zc.shape[0], guided).float())
        return torch.cat(outs)


@dataclass
class T2VDenoiser(_Denoiser):
    """UNetMotionModel over temporal windows of the video, blended."""

    window: int = 16  # the motion module's training length
    overlap: int = 4
    features: FeatureState = field(default_factory=FeatureState)
    name: str = "t2v"
    weights: dict = field(default_factory=dict)  # frames -> blend weights on the device, made ahead

    def prepare(self, device, frames: int | None = None) -> None:
        """Also the blend weights of a `frames`-frame video, on the device, before the first call."""
        super().prepare(device, frames)
        if frames is not None and frames not in self.weights:
            windows = plan_windows(frames, self.window, self.overlap)
            self.weights[frames] = [to_device(w, device) for w in blend_weights(windows, frames)]

    def __call__(self, z: torch.Tensor, t: int, guided: bool = True) -> torch.Tensor:
        self.features.t = t  # SFI's key for what this call records or injects
        frames = z.shape[0]
        windows = plan_windows(frames, self.window, self.overlap)
        outs = []
        for w, (s, e) in enumerate(windows):
            self.features.window = w
            video = z[s:e].to(self.unet.dtype).permute(1, 0, 2, 3).unsqueeze(0)  # (1, C, F, h, w)
            outs.append(self._unet(video, t, e - s, guided)[0].permute(1, 0, 2, 3).float())
        return outs[0] if len(windows) == 1 else blend(outs, windows, frames, self.weights.get(frames))
