"""Per-file mutation scores from mutmut's results (mutants/**/*.py.meta): mutants, killed, timed out, survived,
and the share caught (killed or timed out: a mutant that hangs fails the suite too). `scripts/mutation.sh`
runs mutmut first; this only reads what it left.

    python scripts/mutation_report.py [evs_cli/batch/worker/claims.py ...]   (no path: every file mutmut has results for)
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent


def scores(meta: Path) -> Counter:
    data = json.loads(meta.read_text())
    return Counter(status_by_exit_code[code] for code in data.get("exit_code_by_key", {}).values())


def main(paths: list[str]) -> int:
    metas = [ROOT / "mutants" / f"{p}.meta" for p in paths] if paths else sorted((ROOT / "mutants").rglob("*.py.meta"))
    rows = []
    for meta in metas:
        if not meta.exists():
            print(f"{meta.relative_to(ROOT / 'mutants').with_suffix('')}: no results (run scripts/mutation.sh on it)",
                  file=sys.stderr)
            continue
        c = scores(meta)
        total = sum(c.values())
        caught = c["killed"] + c["timeout"] + c["caught by type check"]
        rows.append((meta.relative_to(ROOT / "mutants").with_suffix("").as_posix(), total, c["killed"],
                     c["timeout"], c["survived"], c["no tests"], c["not checked"], caught))
    print(f"{'file':42} {'mutants':>7} {'killed':>7} {'timeout':>7} {'survived':>8} {'no tests':>8} {'unrun':>6} "
          f"{'caught':>7}")
    for name, total, killed, timeout, survived, no_tests, unrun, caught in rows:
        share = f"{100 * caught / total:.0f}%" if total else "-"
        print(f"{name:42} {total:7} {killed:7} {timeout:7} {survived:8} {no_tests:8} {unrun:6} {share:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
