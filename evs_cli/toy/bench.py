"""Run the paper's compositions on toy clips and measure them (Table 2 of the paper, in the toy world)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.pipeline import Engine
from ..engine.preset import Preset, parse_override
from ..eval.metrics import consistency, psnr, sharpness
from .data import degrade, render, spec_for

COMPOSITIONS = ("input", "t2i", "t2v", "t2i-t2v", "t2v-t2i", "evs")
LABELS = {"input": "Input", "t2i": "T2I", "t2v": "T2V", "t2i-t2v": "T2I+T2V", "t2v-t2i": "T2V+T2I",
          "evs": "EVS T2I+[T2V]+T2I"}


@dataclass
class Clip:
    prompt: str
    clean: np.ndarray
    degraded: np.ndarray


def held_out_clips(seeds) -> list[Clip]:
    """Clips the training never saw (it uses seeds >= 10000)."""
    out = []
    for s in seeds:
        spec = spec_for(s)
        clean = render(spec)
        out.append(Clip(spec.prompt, clean, degrade(clean, s)))
    return out


def engine_for(models, preset: Preset, composition: str) -> Engine:
    """The preset's models and settings with another composition (EVS keeps the preset's own values)."""
    if composition == "evs":
        return Engine(models, preset)
    return Engine(models, preset.with_overrides([parse_override(f"composition={composition}")]))


def measure(frames: np.ndarray, clean: np.ndarray) -> dict:
    return {**consistency(frames), "sharpness": sharpness(frames), "psnr": psnr(frames, clean)}


def run(models, preset: Preset, clips: list[Clip], compositions=COMPOSITIONS, seed: int = 0, progress=None):
    """{composition: mean metrics and seconds per clip}, plus the outputs of the first clip.

    `progress(done, total, what)` is called before each refinement and once at the end."""
    engines = {c: engine_for(models, preset, c) for c in compositions if c != "input"}
    rows, first = {}, {}
    total = len(clips) * len(compositions)
    for n, c in enumerate(compositions):
        per = []
        for k, clip in enumerate(clips):
            if progress:
                progress(n * len(clips) + k, total, LABELS.get(c, c))
            t0 = time.perf_counter()
            if c == "input":
                out = clip.degraded
            else:
                frames, _ = engines[c].refine(torch.from_numpy(clip.degraded), clip.prompt, seed=seed + k)
                out = frames.numpy()
            secs = time.perf_counter() - t0
            per.append({**measure(out, clip.clean), "seconds": secs})
            if k == 0:
                first[c] = out
        rows[c] = {key: float(np.mean([p[key] for p in per])) for key in per[0]}
    if progress:
        progress(total, total, "done")
    return rows, first


def table(rows: dict) -> str:
    head = f"{'method':<20}{'warp err':>10}{'flicker':>10}{'sharpness':>11}{'PSNR':>8}{'s/clip':>8}"
    lines = [head, "-" * len(head)]
    for c, r in rows.items():
        lines.append(f"{LABELS.get(c, c):<20}{r['warp_error']:>10.4f}{r['flicker']:>10.4f}{r['sharpness']:>11.1f}"
                     f"{r['psnr']:>8.2f}{r['seconds']:>8.2f}")
    return "\n".join(lines)
