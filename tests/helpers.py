import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from evs_cli.io.video import write_mp4


def make_clip(path: Path, frames: int = 16, size=(64, 64), fps=8, seed=0) -> Path:
    """A red disc moving over blue stripes, with a little per-frame flicker."""
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 2] = ((xx // 8) % 2) * 200
        img[(xx - 10 - 2 * i) ** 2 + (yy - h // 2) ** 2 < 100] = [220, 30, 30]
        out.append(np.clip(img.astype(int) + rng.integers(-10, 10), 0, 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(torch.from_numpy(np.stack(out)), path, Fraction(fps))
    return path


def _env(env_extra: dict | None) -> dict:
    """Offline, and under pytest-xdist one thread per `evs` process: two workers' runs each spinning two
    OpenMP threads on two cores crawl."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if os.environ.get("PYTEST_XDIST_WORKER"):
        env.setdefault("OMP_NUM_THREADS", "1")
    return {**env, **(env_extra or {})}


def evs(*args, timeout=600, env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = _env(env_extra)
    return subprocess.run([sys.executable, "-m", "evs_cli.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def evs_bg(*args, threads: int | None = None, env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = _env(env_extra)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen([sys.executable, "-m", "evs_cli.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".evs-tmp-" in p.name or ".evs-claim" in p.name)


def make_clip_with_audio(path: Path, frames: int = 16, fps: int = 8) -> Path:
    """A 64x64 clip with a 440 Hz AAC tone, written with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("aac", rate=16000)
        for i in range(frames):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        n = 16000 * frames // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)[None]
        for k in range(0, n, 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k:k + 1024]), format="fltp", layout="mono")
            fr.sample_rate = 16000
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def save_half(model, path) -> None:
    """Save a model's state dict in fp16 (what a published checkpoint may hold; half the disk of fp32)."""
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
