"""Settings of the Triton backend: environment variables, tile sizes and launch options.

The measured reasons for each choice are in bench/results/history.md.
"""
import os

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
# Upper bound on the per-program scratch of one launch (bytes): persistent grids loop over tiles
# instead of allocating scratch for every tile at once.
SCRATCH_BUDGET = int(os.environ.get("WMK_TRITON_SCRATCH_BYTES", str(256 * 2**20)))
# tl.dot input precision: "ieee" (exact fp32, the default) or "tf32" (about 1e-3 relative error).
PRECISION = os.environ.get("WMK_TRITON_PRECISION", "ieee")

# Output-chunk and reduction-chunk widths of every chunked tl.dot. An fp32 ("ieee") dot runs on
# FMA units and holds a K-long slice of both operands per thread, so K chunks stay at 16 in the
# rollout and sampling kernels (larger ones spill there). The GBP plan kernel is a chain of
# dependent matmuls, so it takes fewer, larger chunks: 64x32 from sm_90 on, 64x16 before (64x32
# spills on sm_80). WMK_TRITON_BLOCK_OUT / _BLOCK_K set every kernel's.
BLOCK_OUT = int(os.environ.get("WMK_TRITON_BLOCK_OUT", "32"))
BLOCK_K = int(os.environ.get("WMK_TRITON_BLOCK_K", "16"))
GBP_BLOCK_OUT = int(os.environ.get("WMK_TRITON_BLOCK_OUT", "64"))
GBP_BLOCK_K_SM90 = int(os.environ.get("WMK_TRITON_BLOCK_K", "32"))      # sm_90 and later
GBP_BLOCK_K_OLDER = int(os.environ.get("WMK_TRITON_BLOCK_K", "16"))     # earlier GPUs
BLOCK_ROWS = int(os.environ.get("WMK_TRITON_BLOCK_ROWS", "32"))   # most candidate rows per tile
# GBP plans with fewer than 16 candidates per problem in one-row tiles (device.mm then multiplies
# and sums on the FMA units instead of padding each candidate to a 16-row tl.dot), with wider
# chunks. Opt-in (WMK_TRITON_GBP_ROWS=1) until it has passed the float64 tests on a GPU.
GBP_ROWS = os.environ.get("WMK_TRITON_GBP_ROWS") == "1"
GBP_ROW_BLOCK_OUT = 64
GBP_ROW_BLOCK_K = 32

# Launch options per kernel (the compile gate, bench/compile_gate_triton.py, compiles with the
# same). Each kernel gets an explicit register cap that the compile gate shows to be spill-free
# on sm_80 and sm_90 at the standard workloads (re-run it after changing a kernel: ptxas's
# choices move with the code). The rollout kernels fit 192 registers (2 programs of 4 warps per
# SM); the whole-plan kernels are latency-bound chains and take up to 255 so that they never
# touch local memory. The GBP kernel runs 2 warps (4 and 8 spill on sm_90). No software
# pipelining: the tiles come from L1/L2 and prefetch buffers only cost registers.
LAUNCH = {
    "rollout": dict(num_warps=4, num_stages=1, maxnreg=192),
    "sample_rollout": dict(num_warps=4, num_stages=1, maxnreg=168),
    "gbp": dict(num_warps=2, num_stages=1, maxnreg=255),
    "sampling_plan": dict(num_warps=4, num_stages=1, maxnreg=255),
    "refit": dict(num_warps=4, num_stages=1),
    "adam": dict(num_warps=4),
}


def poison() -> bool:
    """WMK_POISON=1 (read at every launch): fill every buffer a launcher allocates with NaN, so
    unwritten outputs or scratch read before being written show up in tests."""
    return os.environ.get("WMK_POISON") == "1"
