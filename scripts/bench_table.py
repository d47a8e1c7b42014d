"""One table from the JSON files that bench_speed.py (and bench_compile_cache.py through it) wrote to a folder.

A row per timed refinement: which step and variant, seconds per video, % of the bf16 peak, peak GPU memory,
and the ratio to the eager run of the same config. FLOPs do not depend on the attention kernel, the VAE's
memory layout or compilation, so the eager run's count serves its config's other rows too.

    python scripts/bench_table.py bench-out            # prints the table and writes bench-out/table.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench_speed import H100_BF16_DENSE  # the peak its % of peak is computed against


def rows_of(folder: Path) -> list[tuple[str, dict]]:
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"bench_table: skipping {path}: {e}", file=sys.stderr)
            continue
        rows += [(path.stem, r) for r in data if isinstance(r, dict) and "seconds" in r and "config" in r]
    return rows


def variant(step: str, r: dict) -> str:
    parts = [step, r.get("mode", "")]
    if r.get("attention", "auto") != "auto":
        parts.append(f"attention {r['attention']}")
    if r.get("vae_layout", "auto") != "auto":
        parts.append(f"vae {r['vae_layout']}")
    if r.get("first_run_s") and "compiled" in r.get("mode", ""):
        parts.append(f"first run {r['first_run_s']} s, {r.get('fx_cache_hits', '?')} graphs loaded, "
                     f"{r.get('fx_cache_misses', '?')} compiled")
    if "host_syncs_in_refinement" in r:
        parts.append(f"host syncs {r['host_syncs_in_refinement']}")
    return ", ".join(p for p in parts if p)


def table(rows: list[tuple[str, dict]]) -> str:
    eager = {r["config"]: r for _, r in rows if r.get("mode") == "evs eager" and r.get("attention", "auto") == "auto"
             and r.get("vae_layout", "auto") == "auto" and r.get("flops")}
    lines = ["| config | run | s/video | % of bf16 peak | peak GPU GiB | × eager |", "|---|---|---|---|---|---|"]
    for step, r in rows:
        base = eager.get(r["config"])
        stock = r.get("mode") == "stock diffusers"  # other calls than evs: only its own count holds
        flops = r.get("flops") or (0 if stock else (base or {}).get("flops"))
        pct = f"{100 * flops / r['seconds'] / H100_BF16_DENSE:.1f}" if flops else "–"
        ratio = f"{r['seconds'] / base['seconds']:.2f}" if base else "–"
        lines.append(f"| {r['config']} | {variant(step, r)} | {r['seconds']:.2f} | {pct} | "
                     f"{r.get('peak_gib') or '–'} | {ratio} |")
    return "\n".join(lines)


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-out")
    rows = rows_of(folder)
    if not rows:
        print(f"bench_table: no timed rows in {folder}/*.json", file=sys.stderr)
        return 1
    text = table(rows)
    print(text)
    (folder / "table.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
