"""Build tiny random models and a synthetic clip, then refine it with `evs refine` (no download).

The weights are random, so the output is not better than the input: this only shows the whole path
(video in, VAE, T2I + [T2V] + T2I schedule, MP4 and timing log out) working on this machine.
"""

import os
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

from evs_cli.tiny import save_tiny_models  # noqa: E402
from evs_cli.video import write_mp4  # noqa: E402


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="evs-example-"))
    paths = save_tiny_models(work / "models")
    yy, xx = np.mgrid[0:64, 0:64]
    frames = []
    for i in range(16):
        img = np.zeros((64, 64, 3), np.uint8)
        img[..., 2] = ((xx // 8) % 2) * 200
        img[(xx - 10 - 2 * i) ** 2 + (yy - 32) ** 2 < 100] = [220, 30, 30]
        frames.append(img)
    clip = work / "in" / "a red circle moving over blue stripes-0.mp4"
    clip.parent.mkdir(parents=True)
    write_mp4(torch.from_numpy(np.stack(frames)), clip, Fraction(8))
    cmd = [sys.executable, "-m", "evs_cli.cli", "refine", str(clip.parent), "--preset", "vc2", "--t2i",
           str(paths["t2i"]), "--t2v", str(paths["adapter"]), "--resize", "1", "--out", str(work / "out"),
           "--log", str(work / "timing.jsonl")]
    code = subprocess.call(cmd)
    print(f"output: {work / 'out'}\ntiming log: {work / 'timing.jsonl'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
