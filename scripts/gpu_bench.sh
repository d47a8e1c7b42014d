#!/usr/bin/env bash
# One prepared run of the speed benchmark on a lent GPU machine (torch there; diffusers and PyAV carried
# as wheels in .whl/, see docs/performance.md, "Benchmarks"). Writes logs, JSON and one table (table.md) under $OUT
# (or ./bench-out).
# Steps run by priority, each with its own time limit, so that a slow step cannot hide the others.
set -u
out=${OUT:-bench-out}
mkdir -p "$out"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
step() {  # name, seconds, args...
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s)"
  timeout "$limit" python3 scripts/bench_speed.py --json "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log"
}
# Caps add up to 8 minutes; the folder step runs only when FOLDER_S is set.
step eager "${EAGER_S:-130}" --configs vc2,ad2 --stock --repeats 2 --sync-check
step fast "${FAST_S:-40}" --configs vc2-fast,ad2-fast --no-flops --repeats 2
step attention "${ATTENTION_S:-70}" --configs vc2 --attention flash,cudnn,efficient,math --no-flops --repeats 1
step vae "${VAE_S:-40}" --configs vc2 --vae-layout channels_last,contiguous --no-flops --repeats 1
echo "== compile cold and warm (limit ${COMPILE_S:-170}s)"
timeout "${COMPILE_S:-170}" python3 scripts/bench_compile_cache.py --device cuda --configs vc2 \
  --cache /tmp/evs-compile-cache --out "$out" --timeout 120 2>&1 | tee "$out/compile.log"
step long "${LONG_S:-30}" --configs vc2-128 --no-flops --repeats 1
[ -n "${FOLDER_S:-}" ] && step folder "$FOLDER_S" --configs vc2 --no-flops --repeats 1 --folder 6
echo "== table (also in $out/table.md)"
python3 scripts/bench_table.py "$out"
