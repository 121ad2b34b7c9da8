#!/usr/bin/env bash
# The GPU check, in one device call (durations: bench/results/history.md): build the extension against
# the torch installed there, run every kernel test on the GPU, run the benchmark suite.
# Everything lands in $OUT:
#   env.txt build.log tests.txt tests_cuda.txt floors.md bench.log results.csv <device>.md <device>.png
# floors.md: the latency floors of bench/floors.cu (cluster barrier + DSM write, grid barrier, a
# shared-memory-bound 128x256 product), built there with nvcc for the card.
# Usage on the device machine, from the repository root:  bash bench/gpu_suite.sh
# SANITIZE=1 bash bench/gpu_suite.sh runs compute-sanitizer (memcheck, racecheck, synccheck) over
# every CUDA and Triton kernel (bench/sanitize_kernels.py) in place of the benchmark, so the call
# stays within 8 minutes; its reports land in $OUT/sanitize.log.
#
# The extension builds in the background while the Triton tests run (WMK_NO_JIT=1: nothing
# builds behind the tests' back); the CUDA-backend tests follow once the build is done, and
# the benchmark runs last, alone on the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/gpu-run}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 WMK_NO_JIT=1 WMK_TEST_DEVICE=cuda
stamp() { echo "[$(date +%T)] $*"; }
PYTEST=($PY -m pytest -q -p no:cacheprovider -o addopts= -rfE --durations=8
        --ignore=tests/training --deselect tests/triton/test_compile_gate.py
        --deselect tests/cpp/test_compile_gate_cuda.py)

{ nvidia-smi; $PY -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__)"; nvcc --version | tail -2; } > "$OUT/env.txt" 2>&1
stamp "environment: $(grep -E '^torch' "$OUT/env.txt")"

ARCH=$($PY -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
stamp "building the extension for sm_${ARCH/./} in the background"
( TORCH_CUDA_ARCH_LIST="$ARCH" WMK_FORCE_CUDA=1 MAX_JOBS=${MAX_JOBS:-10} timeout 300 \
    $PY setup.py build_ext --inplace > "$OUT/build.log" 2>&1; echo "build exit code $?" >> "$OUT/build.log" ) &
BUILD=$!

stamp "Triton and naive tests on the GPU (xdist, 6 workers)"
WMK_NO_EXTENSION=1 timeout 200 "${PYTEST[@]}" -n 6 tests > "$OUT/tests.txt" 2>&1
stamp "tests exit code $?: $(grep -E '(passed|failed|error)' "$OUT/tests.txt" | tail -1)"

wait $BUILD
stamp "$(tail -1 "$OUT/build.log")"
$PY -c "import wmkernels as w; print(w.info()['backends'])" >> "$OUT/build.log" 2>&1
tail -1 "$OUT/build.log"

stamp "CUDA-backend and extension tests"
timeout 150 "${PYTEST[@]}" -n 6 -k "cuda or test_extension_cpp" tests > "$OUT/tests_cuda.txt" 2>&1
stamp "cuda tests exit code $?: $(grep -E '(passed|failed|error)' "$OUT/tests_cuda.txt" | tail -1)"

if [ "${SANITIZE:-0}" = 1 ]; then
  SAN=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  : > "$OUT/sanitize.log"
  for tool in memcheck racecheck synccheck; do
    stamp "compute-sanitizer --tool $tool over every CUDA and Triton kernel"
    timeout 90 "$SAN" --tool "$tool" --error-exitcode 1 --print-limit 20 \
        $PY bench/sanitize_kernels.py --device cuda >> "$OUT/sanitize.log" 2>&1
    stamp "$tool exit code $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize.log" | tail -1)"
  done
  grep -h -E "^(FAILED|ERROR)" "$OUT/tests.txt" "$OUT/tests_cuda.txt" | head -20
  exit 0
fi

stamp "latency floors (bench/floors.cu)"
FLOORS_BIN=$(mktemp -d)/floors
nvcc -O3 -arch=sm_${ARCH/./} -o "$FLOORS_BIN" bench/floors.cu > "$OUT/floors.md" 2>&1 && timeout 60 "$FLOORS_BIN" > "$OUT/floors.md" 2>&1
stamp "floors exit code $?"
cat "$OUT/floors.md"

stamp "benchmark suite"
timeout ${BENCH_TIMEOUT:-240} $PY -m bench.suite --device cuda --out "$OUT" > "$OUT/bench.log" 2>&1
stamp "bench exit code $?"
stamp "paper-gbp with the opt-in one-row GBP tiles (WMK_TRITON_GBP_ROWS=1), appended to bench.log"
WMK_TRITON_GBP_ROWS=1 timeout 60 $PY -m bench.suite --device cuda --workloads paper-gbp --providers compile,triton \
    --out "$OUT/one-row" >> "$OUT/bench.log" 2>&1
stamp "one-row bench exit code $?"
tail -40 "$OUT/bench.log"
grep -h -E "^(FAILED|ERROR)" "$OUT/tests.txt" "$OUT/tests_cuda.txt" | head -20
