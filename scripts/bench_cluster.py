"""What Ray adds: the same videos refined by `--devices cpu,cpu` and by `--ray --ray-workers 2` (CPU actors
on a local Ray instance), with the tiny test models; prints wall time, time to the first finished video,
per-video seconds inside the workers, and Ray's start-up (ray.init) alone.

    python scripts/bench_cluster.py --videos 6 --frames 24
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from evs_cli.toy.tiny import save_tiny_models  # noqa: E402
from helpers import make_clip  # noqa: E402


def run(args: list, env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "evs_cli.cli", *map(str, args)], capture_output=True, text=True,
                       env=env)
    if r.returncode != 0:
        raise SystemExit(f"evs failed ({r.returncode}): {r.stderr[-2000:]}")
    return time.perf_counter() - t


def ray_init_seconds() -> float:
    import ray

    t = time.perf_counter()
    ray.init(num_cpus=2, logging_level="ERROR", log_to_driver=False)
    took = time.perf_counter() - t
    ray.shutdown()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--frames", type=int, default=24)
    a = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = save_tiny_models(root / "tiny")
        for i in range(a.videos):
            make_clip(root / "in" / f"a red circle-{i}.mp4", frames=a.frames, seed=i)
        models = ["--t2i", paths["t2i"], "--t2v", paths["adapter"], "--resize", "1", "--set", "tI=3",
                  "--set", "tT2V=2", "-q"]
        rows = []
        for name, extra in (("--devices cpu,cpu", ["--devices", "cpu,cpu"]),
                            ("--ray --ray-workers 2", ["--ray", "--ray-workers", "2"])):
            log = root / f"{len(rows)}.jsonl"
            wall = run(["refine", root / "in", "--out", root / f"out{len(rows)}", "--log", log, *models, *extra], env)
            recs = [json.loads(line) for line in log.read_text().splitlines()]
            inside = sum(r["seconds"]["total"] for r in recs) / len(recs)
            rows.append((name, wall, inside))
        print(f"{a.videos} videos of {a.frames} frames (64x64), tiny models, {os.cpu_count()} CPU cores")
        print(f"{'run':24} {'wall s':>8} {'s/video in worker':>18}")
        for name, wall, inside in rows:
            print(f"{name:24} {wall:8.1f} {inside:18.2f}")
        print(f"Ray adds {rows[1][1] - rows[0][1]:+.1f} s of wall time over the run "
              f"({(rows[1][1] - rows[0][1]) / a.videos:+.2f} s per video)")
        print(f"ray.init of a local instance alone: {ray_init_seconds():.1f} s")


if __name__ == "__main__":
    main()
