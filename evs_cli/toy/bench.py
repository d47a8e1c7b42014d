"""Run the paper's compositions on toy clips and measure them (Table 2 of the paper, in the toy world)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.pipeline import Engine
from ..engine.preset import Preset, parse_override
from ..eval.metrics import PSNR_CAP, consistency, psnr, sharpness, sharpness_gap, ssim
from .data import DEFAULT_DEGRADATION, degrade, object_mask, render, spec_for

COMPOSITIONS = ("input", "t2i", "t2v", "t2i-t2v", "t2v-t2i", "evs")
# References a table can add: the clean clip itself, and the input through the VAE alone (what encoding and
# decoding do without any denoising, so that no model gets credit for it).
REFERENCES = ("clean", "vae")
LABELS = {"input": "Input", "t2i": "T2I", "t2v": "T2V", "t2i-t2v": "T2I+T2V", "t2v-t2i": "T2V+T2I",
          "evs": "EVS T2I+[T2V]+T2I", "clean": "clean clip", "vae": "VAE round trip"}


@dataclass
class Clip:
    prompt: str
    clean: np.ndarray
    degraded: np.ndarray
    mask: np.ndarray | None = None  # bool (F, H, W): the moving object, for fidelity on the object alone


def held_out_clips(seeds, degradation: str = DEFAULT_DEGRADATION) -> list[Clip]:
    """Clips the training never saw (it uses seeds >= 10000), with one family of defects (data.DEGRADATIONS)."""
    out = []
    for s in seeds:
        spec = spec_for(s)
        clean = render(spec)
        out.append(Clip(spec.prompt, clean, degrade(clean, s, degradation), object_mask(spec)))
    return out


def engine_for(models, preset: Preset, composition: str) -> Engine:
    """The preset's models and settings with another composition (EVS keeps the preset's own values)."""
    if composition == "evs":
        return Engine(models, preset)
    return Engine(models, preset.with_overrides([parse_override(f"composition={composition}")]))


def psnr_inside(frames: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    """PSNR over the pixels where `mask` holds (all channels): is the object kept?"""
    diff = frames.astype(np.float64)[mask] - clean.astype(np.float64)[mask]
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    return PSNR_CAP if mse == 0 else float(min(PSNR_CAP, 10 * np.log10(255.0**2 / mse)))


def measure(frames: np.ndarray, clean: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Consistency, sharpness (and the clean clip's, to read it against: above clean is not better), and
    fidelity to the clean clip: PSNR, SSIM, and PSNR on the object alone when its mask is known."""
    sharp, sharp_clean = sharpness(frames), sharpness(clean)
    row = {**consistency(frames), "sharpness": sharp, "sharpness_clean": sharp_clean,
           # how far from the clean clip's sharpness, as a ratio either way (softer and noisier both count);
           # averaged per clip, so that one very textured clip does not stand for all of them
           "sharpness_gap": sharpness_gap(sharp, sharp_clean),
           "psnr": psnr(frames, clean), "ssim": ssim(frames, clean)}
    if mask is not None:
        row["psnr_object"] = psnr_inside(frames, clean, mask)
    return row


def vae_round_trip(engine: Engine, frames: np.ndarray) -> np.ndarray:
    """The frames encoded and decoded by the shared VAE, nothing else."""
    return engine.decode(engine.encode(torch.from_numpy(frames))).numpy()


def warm_up(engines: dict, clip: Clip, seed: int) -> None:
    """An untimed refinement of the first clip by each engine first: the first calls of a process, and the first
    at each tensor shape, pay one-time costs (thread pools, allocations, kernels chosen per shape) that would
    otherwise be charged to whichever method runs first, and made T2I alone look slower than EVS."""
    frames = torch.from_numpy(clip.degraded)
    for c, engine in engines.items():
        if c == "vae":
            engine.decode(engine.encode(frames))
        else:
            engine.refine(frames, clip.prompt, seed=seed)


def run(models, preset: Preset, clips: list[Clip], compositions=COMPOSITIONS, seed: int = 0, progress=None):
    """{composition: mean metrics and seconds per clip}, plus the outputs of the first clip.

    `progress(done, total, what)` is called before each refinement and once at the end."""
    engines = {c: engine_for(models, preset, c) for c in compositions if c not in ("input", "clean", "vae")}
    if "vae" in compositions:
        engines["vae"] = Engine(models, preset)
    warm_up(engines, clips[0], seed)
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
            elif c == "clean":
                out = clip.clean
            elif c == "vae":
                out = vae_round_trip(engines["vae"], clip.degraded)
            else:
                frames, _ = engines[c].refine(torch.from_numpy(clip.degraded), clip.prompt, seed=seed + k)
                out = frames.numpy()
            secs = time.perf_counter() - t0
            per.append({**measure(out, clip.clean, clip.mask), "seconds": secs})
            if k == 0:
                first[c] = out
        rows[c] = {key: float(np.mean([p[key] for p in per])) for key in per[0]}
    if progress:
        progress(total, total, "done")
    return rows, first


def decibels(value: float, width: int = 0) -> str:
    """A PSNR for a table; '–' for a clip against itself (metrics.PSNR_CAP: no error to measure), as docs/toy.md's
    tables print it."""
    from ..eval.metrics import PSNR_CAP

    return f"{'–' if value >= PSNR_CAP else f'{value:.2f}':>{width}}"


def table(rows: dict) -> str:
    """Consistency (lower is better), sharpness beside the clean clip's and its gap |log(sharpness / clean)|
    (closer is better; above clean means noise or invented detail), fidelity to the clean clip (higher is better)."""
    head = (f"{'method':<20}{'warp err':>10}{'flicker':>10}{'sharpness':>11}{'(clean)':>9}{'gap':>6}{'PSNR':>8}{'SSIM':>7}"
            f"{'obj PSNR':>10}{'s/clip':>8}")
    lines = [head, "-" * len(head)]
    for c, r in rows.items():
        obj = decibels(r["psnr_object"], 10) if "psnr_object" in r else f"{'-':>10}"
        lines.append(f"{LABELS.get(c, c):<20}{r['warp_error']:>10.4f}{r['flicker']:>10.4f}{r['sharpness']:>11.1f}"
                     f"{r['sharpness_clean']:>9.1f}{r['sharpness_gap']:>6.2f}{decibels(r['psnr'], 8)}{r['ssim']:>7.3f}{obj}{r['seconds']:>8.2f}")
    return "\n".join(lines)


def write_clip_folders(root, seeds, degradation: str = DEFAULT_DEGRADATION, crf: int = 0):
    """Held-out clips as files, for the command line: root/input/<prompt>-<seed>.mp4 (VBench's naming, so the
    prompt comes from the name) and the clean clips under the same names in root/clean. crf 0: H.264 loses
    (next to) nothing of the luma, so the files measure like the arrays."""
    from fractions import Fraction
    from pathlib import Path

    from ..io.video import write_mp4

    root = Path(root)
    for clip, s in zip(held_out_clips(seeds, degradation), seeds):
        for sub, frames in (("input", clip.degraded), ("clean", clip.clean)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            write_mp4(torch.from_numpy(frames), root / sub / f"{clip.prompt}-{s}.mp4", Fraction(8), crf=crf)
    return root / "input", root / "clean"
