"""Run a stage list: the EVS loop of the paper's Algorithm 1, one stage at a time.

Every stage hands over a predicted clean latent, never a noisy one: the two models' z_t live on
different schedules (docs/method.md). Noise comes from `noise(shape)`, drawn once per SDEdit stage, in
stage order.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch

from .diffusion import CLEAN, split_prediction, to_level
from .sfi import feature_injection
from .stages import Stage
from .timing import Clock

NoiseFn = Callable[[tuple[int, ...]], torch.Tensor]


@dataclass
class StageReport:
    index: int
    model: str
    mode: str
    timesteps: list[int]
    calls: int = 0  # denoising model calls
    inversion_calls: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def seeded_noise(seed: int, device, shape: tuple[int, ...] | None = None, ahead: int = 0) -> NoiseFn:
    """Gaussian noise from one CPU torch.Generator, so a seed gives the same video on any device.

    The first `ahead` draws of `shape` are made now and sent to the device before any model runs, so no
    stage waits for the host to draw its noise; the values are the same as drawing each on demand.
    """
    gen = torch.Generator("cpu").manual_seed(seed)
    cuda = torch.device(device).type == "cuda"

    def draw(s):
        x = torch.randn(s, generator=gen, dtype=torch.float32)
        return x.pin_memory().to(device, non_blocking=True) if cuda else x.to(device)

    queued = [draw(tuple(shape)) for _ in range(ahead)] if shape is not None else []

    def noise(s):
        if not queued:
            return draw(tuple(s))
        if tuple(queued[0].shape) != tuple(s):  # drawing out of turn would change every later draw
            raise ValueError(f"noise was drawn ahead for shape {tuple(queued[0].shape)}, asked for {tuple(s)}")
        return queued.pop(0)

    return noise


def run_schedule(x0: torch.Tensor, stages: list[Stage], models: dict, noise: NoiseFn, on_stage=None,
                 clock: Clock | None = None):
    """Refine clean latents x0 (F, C, h, w) through `stages`; return (clean latents, per-stage reports).

    Nothing here waits for the device. `on_stage(report)` is called as each stage is queued; the
    reports' seconds are filled in when the clock is read: here, or by the caller that passed `clock`.
    """
    own_clock = clock is None
    clock = clock or Clock(x0.device)
    reports = []
    for i, stage in enumerate(stages):
        with clock.span(f"stage{i}"):
            x0, report = run_stage(x0, stage, models[stage.model], noise, i)
        reports.append(report)
        if on_stage is not None:
            on_stage(report)
    if own_clock:
        fill_seconds(reports, clock.resolve())
    return x0, reports


def fill_seconds(reports: list[StageReport], seconds: dict[str, float]) -> None:
    for r in reports:
        r.seconds = seconds[f"stage{r.index}"]


def run_stage(x0: torch.Tensor, stage: Stage, model, noise: NoiseFn, index: int = 0):
    grid = model.grid
    levels = grid.levels(stage.start, stage.calls)
    report = StageReport(index, stage.model, stage.mode, levels)
    inj = stage.injection
    model.activate()  # this model's LoRAs only: the spatial layers are shared with the other model
    state = model.features
    scope = feature_injection(model.unet, inj.layers, inj.resnet_layers, state) if inj else nullcontext()
    with scope:
        if stage.mode == "sdedit":
            z = to_level(x0, noise(tuple(x0.shape)), grid.alpha(levels[0]))
        else:
            if inj:
                state.record_levels = set(levels)
                state.mode = "record"
            z, report.inversion_calls = invert(x0, levels[0], model, extra_top_call=inj is not None)
            if inj:
                state.mode, state.gamma = "inject", inj.gamma
        x0_hat, report.calls = SAMPLERS[grid.sampler](z, levels, model, noise)
    return x0_hat, report


def sample_ddim(z: torch.Tensor, levels: list[int], model, noise: NoiseFn):
    """Deterministic DDIM (eta = 0; Euler's step on these grids) from level levels[0] down the given levels:
    the clean estimate and the model calls made."""
    grid = model.grid
    for i, t in enumerate(levels):
        x0_hat, eps = split_prediction(model(z, t), z, grid.alpha(t), grid.prediction_type)
        if i + 1 < len(levels):
            z = to_level(x0_hat, eps, grid.alpha(levels[i + 1]))
    return x0_hat, len(levels)


def sample_lcm(z: torch.Tensor, levels: list[int], model, noise: NoiseFn):
    """LCM's multistep sampler: each call's boundary-conditioned clean estimate, re-noised with fresh noise to the
    next level (consistency steps)."""
    grid = model.grid
    for i, t in enumerate(levels):
        x0_hat, _ = split_prediction(model(z, t), z, grid.alpha(t), grid.prediction_type)
        x0_hat = grid.consistency(x0_hat, z, t)
        if i + 1 < len(levels):
            z = to_level(x0_hat, noise(tuple(z.shape)), grid.alpha(levels[i + 1]))
    return x0_hat, len(levels)


SAMPLERS = {"ddim": sample_ddim, "lcm": sample_lcm}  # diffusion.Grid.sampler -> its loop


def invert(x0: torch.Tensor, top: int, model, extra_top_call: bool = False, evaluate_at: str = "target"):
    """Deterministic DDIM inversion of x0 up to level `top` of the model's grid.

    As diffusers' DDIMInverseScheduler is driven by its pipelines: the step from level s up to the next
    level t evaluates the model at t, on the latent still at s, so a distilled model is only evaluated on
    its own grid, never at t = 0. `evaluate_at="current"` evaluates at s instead (t = 0 for the clean
    latent), the alternative that scripts/compare_inversion.py measures (docs/method.md, Decisions).
    `extra_top_call` evaluates the model once more on the inverted latent at `top`, where the denoising
    starts, so that SFI records the features of that very call.
    """
    if evaluate_at not in ("target", "current"):
        raise ValueError(f"evaluate_at must be 'target' or 'current', got {evaluate_at!r}")
    grid = model.grid
    path = [CLEAN] + [t for t in reversed(grid.timesteps) if t <= top]
    z, calls = x0, 0
    for s, t in zip(path, path[1:]):
        at = t if evaluate_at == "target" else (0 if s == CLEAN else s)
        out = model(z, at, guided=False)
        calls += 1
        x0_hat, eps = split_prediction(out, z, grid.alpha(s), grid.prediction_type)
        z = to_level(x0_hat, eps, grid.alpha(t))
    if extra_top_call:
        model(z, top, guided=False)
        calls += 1
    return z, calls
