#!/usr/bin/env bash
# Triton tile sizes on a GPU: for each BLOCK_OUTxBLOCK_K in $CONFIGS (WMK_TRITON_BLOCK_OUT /
# WMK_TRITON_BLOCK_K, the largest output and reduction chunks of the MLP kernels), the GBP plan
# tests on the GPU, then bench.suite's triton times (checked against torch) on $WORKLOADS.
# Logs land in $OUT (one per configuration); the last lines printed are the timings.
#   CONFIGS="32x16 64x32 128x32" WORKLOADS=paper-gbp,wide-batch bash bench/gpu_tile_sweep.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/tile-sweep}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 WMK_NO_JIT=1 WMK_NO_EXTENSION=1 WMK_TEST_DEVICE=cuda
for cfg in ${CONFIGS:-32x16 64x32 128x32}; do
  export WMK_TRITON_BLOCK_OUT=${cfg%x*} WMK_TRITON_BLOCK_K=${cfg#*x}
  { timeout 60 $PY -m pytest -q -p no:cacheprovider -o addopts= tests/ops/test_gbp.py -k triton 2>&1 | tail -1
    timeout 120 $PY -m bench.suite --device cuda --workloads "${WORKLOADS:-paper-gbp,wide-batch}" \
      --providers torch,triton --out "$(mktemp -d)" 2>&1 | grep -E "passed|failed|triton:|torch:|Error"
  } > "$OUT/$cfg.log"
  sed "s/^/$cfg /" "$OUT/$cfg.log"
done
