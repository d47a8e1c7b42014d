"""What --compile's warm-up costs the first process on a machine and what it costs every later one.

Runs scripts/bench_speed.py --compile three times, each in a process of its own, on one compile cache
(a fresh temporary folder unless --cache is given): cold, warm (same size: graphs load from the cache),
and at another size (new graphs beside the old). Prints one table: the first refinement's seconds
(model calls plus compiling or loading), the steady seconds per video, and inductor's cache hits and
misses.

    python scripts/bench_compile_cache.py --device cpu                 # tiny models, fp32, on a CPU
    python scripts/bench_compile_cache.py --device cuda --configs vc2,vc2-128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(label: str, config: str, a, cache: Path, out: Path) -> dict:
    dest = out / f"compile-{label}.json"
    cmd = [sys.executable, str(HERE / "bench_speed.py"), "--configs", config, "--device", a.device, "--dtype",
           a.dtype, "--compile", "--compile-cache", str(cache), "--no-flops", "--repeats", "1", "--json", str(dest)]
    print(f"== {label}: {' '.join(cmd[1:])}", flush=True)
    r = subprocess.run(cmd, timeout=a.timeout)
    if r.returncode != 0 or not dest.exists():
        return {"label": label, "config": config, "error": f"exit {r.returncode}"}
    row = next(r for r in json.loads(dest.read_text()) if r.get("config") == config)
    return {"label": label, **row}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="default: fp32 on a CPU, auto on a GPU")
    ap.add_argument("--configs", default=None, help="bench_speed configs: the size, and optionally another size "
                    "(default: tiny,tiny-wide on a CPU, vc2,ad2 on a GPU)")
    ap.add_argument("--cache", type=Path, help="compile cache folder (default: a fresh temporary one)")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()), help="where the JSON files go")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds each process may take")
    a = ap.parse_args()
    cpu = a.device == "cpu"
    a.dtype = a.dtype or ("fp32" if cpu else "auto")
    first, *other = (a.configs or ("tiny,tiny-wide" if cpu else "vc2,ad2")).split(",")
    cache = a.cache or Path(tempfile.mkdtemp(prefix="evs-compile-cache-"))
    a.out.mkdir(parents=True, exist_ok=True)
    rows = [run("cold", first, a, cache, a.out), run("warm", first, a, cache, a.out)]
    rows += [run("other-size", c, a, cache, a.out) for c in other[:1]]
    lines = ["| process | config | first refinement s | steady s/video | graphs loaded | graphs compiled |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['label']} | {r['config']} | {r['error']} | | | |")
        else:
            lines.append(f"| {r['label']} | {r['config']} ({r['size']}, {r['frames']} frames) | {r['first_run_s']} | "
                         f"{r['seconds']} | {r['fx_cache_hits']} | {r['fx_cache_misses']} |")
    ok = [r for r in rows if "error" not in r]
    if len(ok) >= 2 and ok[0]["label"] == "cold" and ok[1]["label"] == "warm":
        lines.append(f"\nwarm-up: first process {ok[0]['first_run_s']} s, second {ok[1]['first_run_s']} s "
                     f"({ok[0]['first_run_s'] / ok[1]['first_run_s']:.1f}x less); cache {cache}")
    table = "\n".join(lines)
    print(table)
    (a.out / "compile-cache.md").write_text(table + "\n")
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
