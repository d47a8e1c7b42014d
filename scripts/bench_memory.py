"""Peak host memory of one `evs refine` against the video's length, with the toy models on the CPU: what each
extra frame costs today. Each length is a fresh process (`/usr/bin/time -v`: its maximum resident set), on a toy
clip of that many frames (64x64, degraded as the bundled sample is). Prints one table.

    OMP_NUM_THREADS=1 python scripts/bench_memory.py                      # 128, 512, 2048 frames
    OMP_NUM_THREADS=1 python scripts/bench_memory.py --frames 128,1024 --resize 1
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from evs_cli.io.video import write_mp4
from evs_cli.toy.data import degrade, render, spec_for

SEED = 7  # a toy clip the models were not trained on


def make_clip(folder: Path, frames: int) -> Path:
    spec = spec_for(SEED)
    path = folder / f"{spec.prompt}-0.mp4"
    write_mp4(torch.from_numpy(degrade(render(spec, frames=frames), SEED)), path, 8, crf=4)
    return path


def peak_of_refine(clip: Path, out: Path, resize: float) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of one `evs refine` of `clip` in a fresh process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "evs_cli.cli", "refine", str(clip), "--preset", "toy",
           "--resize", str(resize), "--out", str(out), "--overwrite", "-q"]
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"bench_memory.py: evs refine failed on {clip}:\n{r.stderr[-2000:]}")
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(kb.group(1)) / 1024, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="128,512,2048", help="the lengths, comma-separated (default: %(default)s)")
    ap.add_argument("--resize", type=float, default=1.0, help="refine's --resize (toy: worked at 64x64 with 1)")
    a = ap.parse_args()
    lengths = [int(n) for n in a.frames.split(",") if n]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in lengths:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            clip = make_clip(folder, n)
            peak, wall = peak_of_refine(clip, folder / "out", a.resize)
            rows.append((n, peak, wall))
            print(f"{n} frames: {peak:.0f} MB, {wall:.1f} s", file=sys.stderr, flush=True)
    first_n, first_peak, _ = rows[0]
    print("| frames | peak host MB | over the shortest | KB per extra frame | wall s |")
    print("|---|---|---|---|---|")
    for n, peak, wall in rows:
        extra = peak - first_peak
        per = f"{extra * 1024 / (n - first_n):.0f}" if n > first_n else "–"
        print(f"| {n} | {peak:.0f} | {extra:+.0f} MB | {per} | {wall:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
