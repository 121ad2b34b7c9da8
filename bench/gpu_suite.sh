#!/usr/bin/env bash
# The prepared GPU check (one device call, under 8 minutes on an H100/H200):
# build the extension against the torch installed there, run the GPU tests, run the
# benchmark suite; everything lands in $OUT (at most 8 files):
#   env.txt build.log tests.txt bench.log results.csv <device>.md <device>.png
# Usage on the device machine, from the repository root:  bash bench/gpu_suite.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/gpu-run}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
stamp() { echo "[$(date +%T)] $*"; }

{ nvidia-smi; $PY -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__)"; nvcc --version | tail -2; } > "$OUT/env.txt" 2>&1
stamp "environment: $(tail -3 "$OUT/env.txt" | head -1)"

stamp "building the extension"
ARCH=$($PY -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
TORCH_CUDA_ARCH_LIST="$ARCH" MAX_JOBS=${MAX_JOBS:-16} timeout 300 \
  $PY -m pip install --no-build-isolation --no-deps -e . > "$OUT/build.log" 2>&1
stamp "build exit code $? (arch $ARCH)"
$PY -c "import wmkernels as w; print(w.info()['backends'])" >> "$OUT/build.log" 2>&1
tail -1 "$OUT/build.log"

stamp "GPU tests"
WMK_TEST_DEVICE=cuda timeout 240 $PY -m pytest tests -q -p no:cacheprovider --ignore=tests/training \
  -o addopts="" -rfE --durations=10 > "$OUT/tests.txt" 2>&1
stamp "tests exit code $?"
grep -E "passed|failed|error" "$OUT/tests.txt" | tail -3

stamp "benchmark suite"
timeout 300 $PY -m bench.suite --device cuda --out "$OUT" > "$OUT/bench.log" 2>&1
stamp "bench exit code $?"
tail -25 "$OUT/bench.log"
