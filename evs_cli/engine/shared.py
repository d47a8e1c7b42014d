"""One video under many schedules, each common beginning run once.

Settings that agree on their first stages (the same stage, on the same model sampled the same way, with the
same prompt and seed) reach the same latent there: the T2I stage before the [T2V] block depends only on tI
and tT2V, so a grid over tV, nV or gamma runs it once per video. Each setting's result equals what
`Engine.refine_latents` gives it alone, value for value: a shared stage's latent is reused, and the noise
stream continues from where the shared stages left it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch

from .keys import call_shaping
from .runtime.speed import attention_kernel
from .schedule import StageReport, run_stage, seeded_noise


class NoiseStream:
    """`schedule.seeded_noise` that can be positioned: after a reused prefix, draws continue as if it had run."""

    def __init__(self, seed: int, device):
        self.drawn = 0
        self._draw = seeded_noise(seed, device)

    def __call__(self, shape) -> torch.Tensor:
        self.drawn += 1
        return self._draw(tuple(shape))

    def skip_to(self, drawn: int, shape) -> None:
        if drawn < self.drawn:  # only forward within one setting; a fresh stream for each setting
            raise ValueError(f"the noise stream is past draw {drawn} (at {self.drawn})")
        while self.drawn < drawn:
            self(shape)


@dataclass
class SharedRun:
    """What refining under several schedules did: each setting's latent and stage reports, model calls."""

    latents: list[torch.Tensor]
    reports: list[list[StageReport]]  # a reused stage's report is the first run's (calls counted once)
    calls: dict[str, int] = field(default_factory=lambda: {"t2i": 0, "t2v": 0, "inversion": 0})
    reused: int = 0  # stages taken from an earlier setting instead of run


def stage_context(engine, stage) -> str:
    """What a stage's result depends on besides its input and the noise: its model's sampling options and the
    runtime options that shape its calls (windows, chunks, attention kernel)."""
    d = engine.preset.data
    runtime = call_shaping(d["runtime"])  # keys.py: chunks, windows, the attention kernel
    return json.dumps({"stage": stage.describe(), "model": d[stage.model], "runtime": runtime}, sort_keys=True,
                      default=str)


@torch.no_grad()
def refine_shared(engines: list, x0: torch.Tensor, prompt: str, seed: int, on_setting=None) -> SharedRun:
    """Refine clean latents x0 under each engine's schedule (engines share one ModelSet); the stages that
    begin several schedules the same way run once. `on_setting(i, latent, reports)` as each one is done."""
    run = SharedRun([], [])
    done: dict[tuple, tuple[torch.Tensor, int, StageReport]] = {}  # prefix -> (latent, noise drawn, report)
    for n, engine in enumerate(engines):
        denoisers = engine.denoisers(prompt)
        for d in denoisers.values():
            d.prepare(x0.device, x0.shape[0])
        noise = NoiseStream(seed, x0.device)
        x, prefix, reports = x0, (), []
        with attention_kernel(engine.preset.attention):
            for i, stage in enumerate(engine.stages):
                prefix += (stage_context(engine, stage),)
                if prefix in done:
                    x, drawn, report = done[prefix]
                    run.reused += 1
                else:
                    noise.skip_to(_drawn_before(done, prefix), x0.shape)
                    x, report = run_stage(x, stage, denoisers[stage.model], noise, i)
                    done[prefix] = (x, noise.drawn, report)
                    run.calls[stage.model] += report.calls
                    run.calls["inversion"] += report.inversion_calls
                reports.append(report)
        run.latents.append(x)
        run.reports.append(reports)
        if on_setting is not None:
            on_setting(n, x, reports)
    return run


def _drawn_before(done: dict, prefix: tuple) -> int:
    """Noise drawn by the stages before the last of `prefix` (none if it is the first)."""
    return done[prefix[:-1]][1] if len(prefix) > 1 else 0
