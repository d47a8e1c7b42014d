"""The two models as denoisers: (latent video (F, C, h, w) in DDIM form, timestep) -> model output.

Classifier-free guidance is one batched forward pass ([uncond; cond]); with guidance 1 the
unconditional pass is skipped entirely. T2I sees frames independently and runs them in chunks;
T2V sees temporal windows of the motion module's length and blends their outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .diffusion import Grid
from .sfi import FeatureState
from .windows import blend, plan_windows


@dataclass
class Prompt:
    cond: torch.Tensor  # (1, 77, D)
    uncond: torch.Tensor  # (1, 77, D)


def _guide(out: torch.Tensor, scale: float) -> torch.Tensor:
    u, c = out.chunk(2)
    return u + scale * (c - u)


@dataclass
class T2IDenoiser:
    unet: torch.nn.Module  # UNet2DConditionModel
    grid: Grid
    prompt: Prompt
    guidance: float = 7.5
    chunk: int = 16  # frames per forward pass (x2 with guidance)
    features: FeatureState = field(default_factory=FeatureState)
    name: str = "t2i"

    def __call__(self, z: torch.Tensor, t: int, guided: bool = True) -> torch.Tensor:
        dtype = self.unet.dtype
        cfg = guided and self.guidance != 1.0
        outs = []
        for s in range(0, z.shape[0], self.chunk):
            zc = z[s : s + self.chunk].to(dtype)
            n = zc.shape[0]
            self.features.window = s // self.chunk
            if cfg:
                enc = torch.cat([self.prompt.uncond.expand(n, -1, -1), self.prompt.cond.expand(n, -1, -1)])
                out = _guide(self.unet(torch.cat([zc, zc]), t, encoder_hidden_states=enc).sample, self.guidance)
            else:
                out = self.unet(zc, t, encoder_hidden_states=self.prompt.cond.expand(n, -1, -1)).sample
            outs.append(out.float())
        return torch.cat(outs)


@dataclass
class T2VDenoiser:
    unet: torch.nn.Module  # UNetMotionModel
    grid: Grid
    prompt: Prompt
    guidance: float = 1.0
    window: int = 16  # the motion module's training length
    overlap: int = 4
    features: FeatureState = field(default_factory=FeatureState)
    name: str = "t2v"

    def __call__(self, z: torch.Tensor, t: int, guided: bool = True) -> torch.Tensor:
        frames = z.shape[0]
        windows = plan_windows(frames, self.window, self.overlap)
        outs = []
        for w, (s, e) in enumerate(windows):
            self.features.window = w
            outs.append(self._forward(z[s:e], t, guided))
        return outs[0] if len(windows) == 1 else blend(outs, windows, frames)

    def _forward(self, z: torch.Tensor, t: int, guided: bool) -> torch.Tensor:
        f = z.shape[0]
        video = z.to(self.unet.dtype).permute(1, 0, 2, 3).unsqueeze(0)  # (1, C, F, h, w)
        if guided and self.guidance != 1.0:
            enc = torch.cat([self.prompt.uncond.expand(f, -1, -1), self.prompt.cond.expand(f, -1, -1)])
            out = _guide(self.unet(torch.cat([video, video]), t, encoder_hidden_states=enc).sample, self.guidance)
        else:
            out = self.unet(video, t, encoder_hidden_states=self.prompt.cond.expand(f, -1, -1)).sample
        return out[0].permute(1, 0, 2, 3).float()
