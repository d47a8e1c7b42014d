#!/usr/bin/env bash
# Mutation testing (mutmut 3, configured in pyproject.toml's [tool.mutmut]) of the batch wing, tune's grid,
# records and choice, and evs_cli/io, against the fast unit folders (tests/batch, tests/tune, tests/io; never
# tests/cli). Then one line per file: mutants, killed, timed out, survived, no tests, and the share caught.
#
#   scripts/mutation.sh                               every configured file (hours on 2 cores)
#   scripts/mutation.sh evs_cli/batch/worker/claims.py ...   those files only (minutes each)
#   scripts/mutation.sh --retest FILE ...             only those files' survivors again (after adding tests)
#
# Results are kept in mutants/ (ignored by git): a rerun tests only the functions changed since.
# `mutmut show NAME` prints a survivor's diff; `mutmut browse` lists them. docs/testing.md reads the report.
set -euo pipefail
cd "$(dirname "$0")/.."
retest=0
if [ "${1:-}" = "--retest" ]; then retest=1; shift; [ $# -gt 0 ] || { echo "mutation.sh: --retest needs files" >&2; exit 2; }; fi
names=()
for path in "$@"; do
  [ -f "$path" ] || { echo "mutation.sh: $path: no such file" >&2; exit 2; }
  module=${path%.py}
  names+=("${module//\//.}.*")  # evs_cli/batch/worker/claims.py -> evs_cli.batch.worker.claims.* (mutmut's mutant names)
done
export HF_HUB_OFFLINE=1
rm -rf mutants/tests  # mutmut copies tests/ over its old copy: a moved or deleted test module would linger there
if [ $retest = 1 ]; then  # mutmut tests only mutants without a result: forget the survivors' (exit 0, no tests)
  python - "$@" <<'PY'
import json, os, sys
for path in sys.argv[1:]:
    meta = f"mutants/{path}.meta"
    if not os.path.exists(meta):
        sys.exit(f"mutation.sh: {path}: no results to retest yet (run it without --retest)")
    data = json.load(open(meta))
    codes = data["exit_code_by_key"]
    codes.update({k: None for k, code in codes.items() if code in (0, 5, 33)})
    json.dump(data, open(meta, "w"), indent=4)
PY
fi
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${names[@]}" > mutants.log 2>&1 || {
  echo "mutation.sh: mutmut failed; its output is in mutants.log" >&2; tail -20 mutants.log >&2; exit 1; }
python scripts/mutation_report.py "$@"
