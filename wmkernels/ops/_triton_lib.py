"""Shared pieces of the Triton backend: device functions and launcher helpers.

Device side (all @triton.jit, inlined into the kernels of wmkernels/ops/*/triton.py):

- ``activation`` / ``activation_grad``: the five activations of wmkernels.activations and their
  derivatives at the pre-activation, selected by the constexpr ACT (see ACT_IDS).
- ``normal_draw``: the counter-based normal of wmkernels._random (Philox4x32-10 keyed by
  seed + (stream << 32), counter (i, n, p, step), Box-Muller on output words 0 and 1).
- ``mlp_forward`` / ``mlp_backward``: one candidate tile's rollout through T steps of an
  MLPWorldModel, and its backward through time (optionally with a fused projected Adam / SGD
  update of the actions). Every matrix product is a chunked ``tl.dot`` that reads its left
  operand from a small per-program scratch buffer (it stays in L1/L2) and the weights from
  global memory (L2), so no tile is larger than [BN, BK] x [BK, BH] whatever the widths.

Host side: ``pack_model`` (zero-pads the weights into power-of-two, >= 16 blocks so the kernels
need no masks on them and every tl.dot dimension is >= 16), ``block_sizes``, ``LAUNCH`` (per-kernel
warps / register caps, shared with bench/compile_gate_triton.py), ``alloc`` (NaN poisoning for
tests), ``num_programs`` (persistent grids that bound the scratch memory).

Under TRITON_INTERPRET=1 (CPU tests) ``_speed_up_interpreter`` removes the interpreter's
re-patching of triton.language on every device-function call (about 2x faster tests).

Zero padding is exact: padded hidden units have pre-activation 0 and act(0) = 0 for every
activation, and their outgoing weights are 0; padded state dimensions stay 0 through the skip.
"""
import os

import torch
import triton
import triton.language as tl

ACT_IDS = {"relu": 0, "silu": 1, "gelu": 2, "tanh": 3, "elu": 4}
SKIP_IDENTITY, SKIP_MATRIX = 0, 1
UPDATE_STORE, UPDATE_ADAM, UPDATE_SGD = 0, 1, 2

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
# Fill every buffer a launcher allocates with NaN, so unwritten outputs or scratch read before
# being written show up in tests.
POISON = os.environ.get("WMK_POISON") == "1"
# Upper bound on the per-program scratch of one launch (bytes): persistent grids loop over tiles
# instead of allocating scratch for every tile at once.
SCRATCH_BUDGET = int(os.environ.get("WMK_TRITON_SCRATCH_BYTES", str(256 * 2**20)))
# tl.dot input precision: "ieee" (exact fp32, the default) or "tf32" (about 1e-3 relative error).
PRECISION = os.environ.get("WMK_TRITON_PRECISION", "ieee")

# Output-chunk and reduction-chunk widths of every chunked tl.dot. An fp32 ("ieee") dot runs on
# FMA units and holds a K-long slice of both operands per thread, so K chunks stay at 16 in the
# rollout and sampling kernels (larger ones spill there). The GBP plan kernel is a chain of
# dependent matmuls whose chunks follow each other, so fewer, larger chunks shorten it: on an
# H100 (bench/gpu_tile_sweep.sh) paper-gbp took 58 / 35 / 32 ms and wide-batch 552 / 336 /
# 353 ms with 32x16 / 64x32 / 128x32 chunks. 64x32 spills on sm_80 (wide-batch), so GPUs before
# sm_90 get 64x16 (spill-free, not yet timed). WMK_TRITON_BLOCK_OUT / _BLOCK_K set every kernel's.
BLOCK_OUT = int(os.environ.get("WMK_TRITON_BLOCK_OUT", "32"))
BLOCK_K = int(os.environ.get("WMK_TRITON_BLOCK_K", "16"))
GBP_BLOCK_OUT = int(os.environ.get("WMK_TRITON_BLOCK_OUT", "64"))
GBP_BLOCK_K_SM90 = int(os.environ.get("WMK_TRITON_BLOCK_K", "32"))      # sm_90 and later
GBP_BLOCK_K_OLDER = int(os.environ.get("WMK_TRITON_BLOCK_K", "16"))     # earlier GPUs
BLOCK_ROWS = int(os.environ.get("WMK_TRITON_BLOCK_ROWS", "32"))   # most candidate rows per tile

# Launch options per kernel (the compile gate compiles with the same). ptxas left to itself
# picks ~96 registers and spills on these long loop nests, so each kernel gets an explicit
# register cap that the compile gate shows to be spill-free on sm_80 and sm_90 at the standard
# workloads (bench/compile_gate_triton.py; re-run it after changing a kernel: ptxas's choices
# move with the code). The rollout kernels fit 192 registers (2 programs of 4 warps per SM);
# the whole-plan kernels (forward + backward + Adam + Philox, or sampling + rollout + top-k
# refit) need up to 255: they are latency-bound chains, so never touching local memory matters
# more than occupancy. The GBP kernel runs 2 warps (4 and 8 spilled on sm_90). No software
# pipelining: the tiles come from L1/L2 and prefetch buffers only cost registers.
LAUNCH = {
    "rollout": dict(num_warps=4, num_stages=1, maxnreg=192),
    "sample_rollout": dict(num_warps=4, num_stages=1, maxnreg=168),
    "gbp": dict(num_warps=2, num_stages=1, maxnreg=255),
    "sampling_plan": dict(num_warps=4, num_stages=1, maxnreg=255),
    "refit": dict(num_warps=4, num_stages=1),
    "adam": dict(num_warps=4),
}
# Launch options that replace LAUNCH[kernel] when the grid has no more programs than SMs
# (each program then has an SM to itself). Empty for now: wider programs (8 warps) for the
# paper-gbp grid spilled 8-64 bytes on sm_90 at every register cap tried.
FEW_PROGRAMS = {}


def launch_options(kernel, programs, sms):
    """LAUNCH[kernel], or its FEW_PROGRAMS variant when the grid has `programs` <= `sms`."""
    opts = dict(LAUNCH[kernel])
    if programs <= sms:
        opts.update(FEW_PROGRAMS.get(kernel, {}))
    return opts

def _speed_up_interpreter():
    """Under TRITON_INTERPRET=1, every call of a @triton.jit device function re-patches
    triton.language (about a millisecond each, hundreds of times per kernel here). Skip the
    re-patch when the modules the function sees are already patched (the patches are
    stateless wrappers, so this changes nothing else). Disable with WMK_INTERPRETER_FAST=0."""
    if os.environ.get("WMK_INTERPRETER_FAST", "1") == "0":
        return
    try:
        import inspect
        from triton.runtime import interpreter as interp
        original, scope_type = interp._patch_lang, interp._LangPatchScope
    except (ImportError, AttributeError):
        return
    if getattr(original, "_wmk_fast", False):
        return

    def patch_lang(fn):
        langs = [v for v in fn.__globals__.values() if inspect.ismodule(v) and v in (tl, tl.core)]
        if langs and all(not tl.core.is_builtin(getattr(lang, "load", None)) for lang in langs):
            return scope_type()          # already patched: nothing to do, nothing to restore
        return original(fn)

    patch_lang._wmk_fast = True
    interp._patch_lang = patch_lang


if INTERPRET:
    _speed_up_interpreter()

_GELU_C = 0.7978845608028654   # sqrt(2 / pi)
_GELU_K = 0.044715
_TWO_PI = 6.283185307179586
_UNIT = 4.6566127342e-10        # 2^-31, as in tl.rand


# ------------------------------------------------------------------------------------------------
# device functions
# ------------------------------------------------------------------------------------------------
@triton.jit
def _tanh(x):
    """tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|) (no overflow for any x)."""
    e = tl.exp(-2.0 * tl.abs(x))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(x < 0, -t, t)


@triton.jit
def activation(x, ACT: tl.constexpr):
    """relu | silu | gelu (tanh form) | tanh | elu, by ACT = 0..4."""
    if ACT == 0:
        y = tl.maximum(x, 0.0)
    elif ACT == 1:
        y = x / (1.0 + tl.exp(-x))
    elif ACT == 2:
        y = 0.5 * x * (1.0 + _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    elif ACT == 3:
        y = _tanh(x)
    else:
        y = tl.where(x > 0, x, tl.exp(tl.minimum(x, 0.0)) - 1.0)
    return y


@triton.jit
def activation_grad(x, ACT: tl.constexpr):
    """d act / dx at the pre-activation x (see wmkernels/activations.py)."""
    if ACT == 0:
        d = tl.where(x > 0, 1.0, 0.0)
    elif ACT == 1:
        s = 1.0 / (1.0 + tl.exp(-x))
        d = s * (1.0 + x * (1.0 - s))
    elif ACT == 2:
        th = _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
        d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x)
    elif ACT == 3:
        th = _tanh(x)
        d = 1.0 - th * th
    else:
        d = tl.where(x > 0, 1.0, tl.exp(tl.minimum(x, 0.0)))
    return d


@triton.jit
def _unit(x):
    """uint32 -> [0, 1): |int32(x)| (-x - 1 for negative x) times 2^-31, as tl.rand does."""
    s = x.to(tl.int32, bitcast=True)
    s = tl.where(s < 0, ~s, s)      # ~s == -s - 1, without the int32 overflow at -2^31
    return s.to(tl.float32) * 4.6566127342e-10


@triton.jit
def _cos_2pi(u):
    """cos(2 pi u) for u in [0, 1), without a libdevice call (whose huge-argument path needs local
    memory): u = k/4 + r with |r| <= 1/8, theta = 2 pi r in [-pi/4, pi/4], then the quadrant's
    cos/sin Taylor polynomial (truncation error < 3e-8)."""
    k = tl.floor(u * 4.0 + 0.5)
    th = (u - k * 0.25) * 6.283185307179586
    t2 = th * th
    c = 1.0 + t2 * (-0.5 + t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40320.0))))
    s = th * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0)))))
    q = k.to(tl.int32) % 4
    return tl.where(q == 0, c, tl.where(q == 1, -s, tl.where(q == 2, -c, s)))


@triton.jit
def normal_draw(key, step, p, n, i):
    """Standard normal draws z(seed, stream, step, p, n, i) of wmkernels._random.

    key = seed + (stream << 32) (Philox key words (seed, stream)); n, i int32 tensors of one
    shape (candidate, element t*A + a); p, step scalars. Philox4x32-10 on the counter
    (i, n, p, step), then z = sqrt(-2 log max(u(x0), 1e-7)) cos(2 pi u(x1)).
    """
    zero = tl.zeros_like(i)
    x0, x1, _, _ = tl.philox(key, i, n + zero, zero + p, zero + step)
    u1 = tl.maximum(_unit(x0), 1.0e-7)
    u2 = _unit(x1)
    return tl.sqrt(-2.0 * tl.log(u1)) * _cos_2pi(u2)


@triton.jit
def _mm(acc, x_ptr, stride_xn, n_lim, k_lim, w_ptr, stride_wk, col0,
        K: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, PREC: tl.constexpr):
    """acc[BN, BC] += X[:BN, :K] @ W[:K, col0:col0+BC].

    X rows at stride_xn (rows >= n_lim and columns >= k_lim read as 0); W row-major, padded.
    """
    rn = tl.arange(0, BN)
    rk = tl.arange(0, BK)
    rc = col0 + tl.arange(0, BC)
    for k0 in range(0, K, BK):
        kk = k0 + rk
        x = tl.load(x_ptr + rn[:, None] * stride_xn + kk[None, :],
                    mask=(rn[:, None] < n_lim) & (kk[None, :] < k_lim), other=0.0)
        w = tl.load(w_ptr + kk[:, None] * stride_wk + rc[None, :])
        acc = tl.dot(x, w, acc, input_precision=PREC)
    return acc


@triton.jit
def mlp_forward(
    z0_ptr, goal_ptr,                                # this problem's z0 [D], goal [D]
    a_ptr, stride_an, stride_at, n_valid,            # this tile's actions (row, t, a); rows < n_valid
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,   # packed model (see pack_model)
    w_ptr, q_ptr, lam,                               # objective: w [T], q [DP] (padded), lambda
    zs_ptr, pre_ptr, h_ptr,                          # scratch: states [T+1, BN, DP], pre-activations
                                                     # [T, L, BN, HP] (KEEP_PRE), activations [L, BN, HP]
    states_ptr, stride_sn, stride_st,                # optional states output of this tile (row, t, d)
    T, D, A,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, KEEP_PRE: tl.constexpr, WRITE_STATES: tl.constexpr,
    PREC: tl.constexpr,
):
    """Roll a tile of BN candidates through T steps; return their costs [BN].

        pre_0 = z_t Wz + a_t Wa + b_0;  pre_l = act(pre_{l-1}) W_l + b_l
        z_{t+1} = z_t S + act(pre_{L-1}) W_o + b_o
        C = sum_t w_t sum_d q_d (z_{t+1,d} - g_d)^2 + lam sum_t ||a_t||^2

    States go to zs_ptr[t] (all T+1 kept for the backward); pre-activations to pre_ptr[t]
    when KEEP_PRE (for the backward); act(pre_l) of the current step to h_ptr[l], computed once
    per element and read by the next layer's chunks.
    """
    rn = tl.arange(0, BN)
    rd = tl.arange(0, BD)
    rh = tl.arange(0, BH)
    ra = tl.arange(0, BA)
    layer_stride = BN * HP
    # z_0, broadcast over the tile
    for d0 in range(0, DP, BD):
        dd = d0 + rd
        z = tl.load(z0_ptr + dd, mask=dd < D, other=0.0)
        zt = tl.zeros([BN, BD], dtype=tl.float32) + z[None, :]
        tl.store(zs_ptr + rn[:, None] * DP + dd[None, :], zt)
        if WRITE_STATES:
            tl.store(states_ptr + rn[:, None] * stride_sn + dd[None, :], zt,
                     mask=(rn[:, None] < n_valid) & (dd[None, :] < D))
    tl.debug_barrier()
    cost = tl.zeros([BN], dtype=tl.float32)
    for t in range(0, T):
        z_ptr = zs_ptr + t * (BN * DP)
        at_ptr = a_ptr + t * stride_at
        pt_ptr = pre_ptr + t * (L * layer_stride)
        # action penalty
        for a0 in range(0, AP, BA):
            aa = a0 + ra
            a = tl.load(at_ptr + rn[:, None] * stride_an + aa[None, :],
                        mask=(rn[:, None] < n_valid) & (aa[None, :] < A), other=0.0)
            cost += lam * tl.sum(a * a, axis=1)
        # first layer: [z, a] @ [Wz; Wa] + b_0
        for h0 in range(0, HP, BH):
            acc = tl.zeros([BN, BH], dtype=tl.float32)
            acc = _mm(acc, z_ptr, DP, BN, DP, wz_ptr, HP, h0, DP, BKD, BN, BH, PREC)
            acc = _mm(acc, at_ptr, stride_an, n_valid, A, wa_ptr, HP, h0, AP, BKA, BN, BH, PREC)
            acc += tl.load(bh_ptr + h0 + rh)[None, :]
            if KEEP_PRE:
                tl.store(pt_ptr + rn[:, None] * HP + (h0 + rh)[None, :], acc)
            tl.store(h_ptr + rn[:, None] * HP + (h0 + rh)[None, :], activation(acc, ACT))
        tl.debug_barrier()
        # hidden layers
        for l in tl.static_range(1, L):
            for h0 in range(0, HP, BH):
                acc = tl.zeros([BN, BH], dtype=tl.float32)
                acc = _mm(acc, h_ptr + (l - 1) * layer_stride, HP, BN, HP, wh_ptr + (l - 1) * (HP * HP),
                          HP, h0, HP, BKH, BN, BH, PREC)
                acc += tl.load(bh_ptr + l * HP + h0 + rh)[None, :]
                if KEEP_PRE:
                    tl.store(pt_ptr + l * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
                tl.store(h_ptr + l * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], activation(acc, ACT))
            tl.debug_barrier()
        # output layer, skip and this step's cost term
        wt = tl.load(w_ptr + t)
        for d0 in range(0, DP, BD):
            dd = d0 + rd
            acc = tl.zeros([BN, BD], dtype=tl.float32)
            acc = _mm(acc, h_ptr + (L - 1) * layer_stride, HP, BN, HP, wo_ptr, DP, d0, HP, BKH, BN, BD, PREC)
            if SKIP == 0:
                acc += tl.load(z_ptr + rn[:, None] * DP + dd[None, :])
            else:
                acc = _mm(acc, z_ptr, DP, BN, DP, s_ptr, DP, d0, DP, BKD, BN, BD, PREC)
            acc += tl.load(bo_ptr + dd)[None, :]
            tl.store(z_ptr + BN * DP + rn[:, None] * DP + dd[None, :], acc)
            g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
            q = tl.load(q_ptr + dd)
            err = acc - g[None, :]
            cost += wt * tl.sum(q[None, :] * err * err, axis=1)
            if WRITE_STATES:
                tl.store(states_ptr + rn[:, None] * stride_sn + (t + 1) * stride_st + dd[None, :], acc,
                         mask=(rn[:, None] < n_valid) & (dd[None, :] < D))
        tl.debug_barrier()
    return cost


@triton.jit
def mlp_backward(
    goal_ptr,
    a_ptr, stride_an, stride_at, n_valid,            # actions (read; updated in place if UPDATE > 0)
    g_ptr, m_ptr, v_ptr,                             # grad output (UPDATE 0) / Adam moments (UPDATE 1)
    wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr,      # transposed packed weights
    w_ptr, q_ptr, lam,
    zs_ptr, pre_ptr, dh_ptr, dz_ptr,                 # scratch: states, pre-acts (from mlp_forward),
                                                     # dh [2, BN, HP], dz [2, BN, DP]
    lo_ptr, hi_ptr, lr, beta1, beta2, eps, bc1, bc2, noise, key, step, p, n0,
    T, D, A,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, UPDATE: tl.constexpr, NOISE: tl.constexpr,
    PREC: tl.constexpr,
):
    """Backward through time of mlp_forward (which must have run with KEEP_PRE):

        dz_T      = 2 w_T q (z_T - g)
        dpre_{L-1} = (dz_{t+1} W_o^T) * act'(pre_{L-1});  dpre_{l-1} = (dpre_l W_l^T) * act'(pre_{l-1})
        da_t      = dpre_0 Wa^T + 2 lam a_t
        dz_t      = dz_{t+1} S^T + dpre_0 Wz^T + 2 w_t q (z_t - g)

    UPDATE 0 stores da_t to g_ptr. UPDATE 1 applies projected Adam to a_t right away (the
    forward of this iterate is complete, so a_t is free to change):
        m = b1 m + (1-b1) da;  v = b2 v + (1-b2) da^2
        a = clamp(a - lr (m / bc1) / (sqrt(v / bc2) + eps) + noise z, lo, hi)
    with bc1 = 1 - b1^k, bc2 = 1 - b2^k, z = normal(key, step, p, n0 + row, t*A + a).
    UPDATE 2 is projected SGD: a = clamp(a - lr da + noise z, lo, hi).
    """
    rn = tl.arange(0, BN)
    rd = tl.arange(0, BD)
    rh = tl.arange(0, BH)
    ra = tl.arange(0, BA)
    layer_stride = BN * HP
    # dz_T into slot T % 2
    wT = tl.load(w_ptr + T - 1)
    for d0 in range(0, DP, BD):
        dd = d0 + rd
        z = tl.load(zs_ptr + T * (BN * DP) + rn[:, None] * DP + dd[None, :])
        g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
        q = tl.load(q_ptr + dd)
        tl.store(dz_ptr + (T % 2) * (BN * DP) + rn[:, None] * DP + dd[None, :],
                 2.0 * wT * q[None, :] * (z - g[None, :]))
    tl.debug_barrier()
    for t in range(T - 1, -1, -1):
        dz_in = dz_ptr + ((t + 1) % 2) * (BN * DP)
        dz_out = dz_ptr + (t % 2) * (BN * DP)
        pt_ptr = pre_ptr + t * (L * layer_stride)
        # dpre_{L-1} = (dz W_o^T) * act'(pre_{L-1})  -> dh slot (L-1) % 2
        for h0 in range(0, HP, BH):
            acc = tl.zeros([BN, BH], dtype=tl.float32)
            acc = _mm(acc, dz_in, DP, BN, DP, woT_ptr, HP, h0, DP, BKD, BN, BH, PREC)
            pre = tl.load(pt_ptr + (L - 1) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :])
            acc = acc * activation_grad(pre, ACT)
            tl.store(dh_ptr + ((L - 1) % 2) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
        tl.debug_barrier()
        for i in tl.static_range(1, L):
            l = L - i      # l = L-1 .. 1: dpre_{l-1} = (dpre_l W_l^T) * act'(pre_{l-1})
            for h0 in range(0, HP, BH):
                acc = tl.zeros([BN, BH], dtype=tl.float32)
                acc = _mm(acc, dh_ptr + (l % 2) * layer_stride, HP, BN, HP, whT_ptr + (l - 1) * (HP * HP),
                          HP, h0, HP, BKH, BN, BH, PREC)
                pre = tl.load(pt_ptr + (l - 1) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :])
                acc = acc * activation_grad(pre, ACT)
                tl.store(dh_ptr + ((l - 1) % 2) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
            tl.debug_barrier()
        # da_t = dpre_0 Wa^T + 2 lam a_t, then store or update
        at_ptr = a_ptr + t * stride_at
        for a0 in range(0, AP, BA):
            aa = a0 + ra
            acc = tl.zeros([BN, BA], dtype=tl.float32)
            acc = _mm(acc, dh_ptr, HP, BN, HP, waT_ptr, AP, a0, HP, BKH, BN, BA, PREC)
            offs = rn[:, None] * stride_an + t * stride_at + aa[None, :]
            mask = (rn[:, None] < n_valid) & (aa[None, :] < A)
            a = tl.load(a_ptr + offs, mask=mask, other=0.0)
            grad = acc + 2.0 * lam * a
            if UPDATE == 0:
                tl.store(g_ptr + offs, grad, mask=mask)
            else:
                if UPDATE == 1:
                    m = tl.load(m_ptr + offs, mask=mask, other=0.0)
                    v = tl.load(v_ptr + offs, mask=mask, other=0.0)
                    m = beta1 * m + (1.0 - beta1) * grad
                    v = beta2 * v + (1.0 - beta2) * grad * grad
                    tl.store(m_ptr + offs, m, mask=mask)
                    tl.store(v_ptr + offs, v, mask=mask)
                    a = a - lr * (m / bc1) / (tl.sqrt(v / bc2) + eps)
                else:
                    a = a - lr * grad
                if NOISE:
                    elem = t * A + aa
                    cand = n0 + rn
                    z = normal_draw(key, step, p, cand[:, None] + tl.zeros([BN, BA], dtype=tl.int32),
                                    elem[None, :] + tl.zeros([BN, BA], dtype=tl.int32))
                    a = a + noise * z
                lo = tl.load(lo_ptr + aa, mask=aa < A, other=0.0)
                hi = tl.load(hi_ptr + aa, mask=aa < A, other=0.0)
                a = tl.minimum(tl.maximum(a, lo[None, :]), hi[None, :])
                tl.store(a_ptr + offs, a, mask=mask)
        # dz_t = dz_{t+1} S^T + dpre_0 Wz^T + 2 w_t q (z_t - g)   (w_t of state t, t >= 1)
        wt = tl.load(w_ptr + t - 1, mask=t >= 1, other=0.0)
        for d0 in range(0, DP, BD):
            dd = d0 + rd
            acc = tl.zeros([BN, BD], dtype=tl.float32)
            acc = _mm(acc, dh_ptr, HP, BN, HP, wzT_ptr, DP, d0, HP, BKH, BN, BD, PREC)
            if SKIP == 0:
                acc += tl.load(dz_in + rn[:, None] * DP + dd[None, :])
            else:
                acc = _mm(acc, dz_in, DP, BN, DP, sT_ptr, DP, d0, DP, BKD, BN, BD, PREC)
            z = tl.load(zs_ptr + t * (BN * DP) + rn[:, None] * DP + dd[None, :])
            g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
            q = tl.load(q_ptr + dd)
            acc += 2.0 * wt * q[None, :] * (z - g[None, :])
            tl.store(dz_out + rn[:, None] * DP + dd[None, :], acc)
        tl.debug_barrier()


# ------------------------------------------------------------------------------------------------
# host helpers
# ------------------------------------------------------------------------------------------------
def pad_dim(n: int, minimum: int = 16) -> int:
    """The padded size of a dimension: a power of two, at least `minimum` (tl.dot needs >= 16)."""
    return max(minimum, triton.next_power_of_2(int(n)))


def alloc(shape, device, dtype=torch.float32, fill=None):
    """torch.empty, or full of `fill`; NaN-filled when POISON is set and no fill is given."""
    if fill is not None:
        return torch.full(shape, fill, dtype=dtype, device=device)
    if POISON and dtype.is_floating_point:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _padded(t, rows, cols):
    out = torch.zeros(rows, cols, dtype=torch.float32, device=t.device)
    out[:t.shape[0], :t.shape[1]] = t.to(torch.float32)
    return out


def pack_model(model):
    """The model as zero-padded float32 blocks (and their transposes for the backward).

    DP, AP, HP: padded state, action and (widest) hidden sizes. Returns a dict with
    wz [DP, HP], wa [AP, HP], wh [max(L-1,1), HP, HP], wo [HP, DP], s [DP, DP] (zeros block if
    identity), bh [L, HP], bo [DP], their transposes wzT, waT, whT, woT, sT, and meta data.
    """
    D, A = model.state_dim, model.action_dim
    widths = model.widths
    L = len(widths)
    DP, AP, HP = pad_dim(D), pad_dim(A), pad_dim(max(widths))
    dev = model.device
    W = model.weights
    wz = _padded(W[0][:D], DP, HP)
    wa = _padded(W[0][D:], AP, HP)
    wh = torch.zeros(max(L - 1, 1), HP, HP, dtype=torch.float32, device=dev)
    for l in range(1, L):
        wh[l - 1, :W[l].shape[0], :W[l].shape[1]] = W[l].to(torch.float32)
    wo = _padded(W[-1], HP, DP)
    bh = torch.zeros(L, HP, dtype=torch.float32, device=dev)
    for l in range(L):
        bh[l, :widths[l]] = model.biases[l].to(torch.float32)
    bo = torch.zeros(DP, dtype=torch.float32, device=dev)
    bo[:D] = model.biases[-1].to(torch.float32)
    skip = SKIP_IDENTITY if model.skip is None else SKIP_MATRIX
    s = (torch.zeros(16, 16, dtype=torch.float32, device=dev) if model.skip is None
         else _padded(model.skip, DP, DP))
    return dict(wz=wz, wa=wa, wh=wh, wo=wo, s=s, bh=bh, bo=bo,
                wzT=wz.t().contiguous(), waT=wa.t().contiguous(),
                whT=wh.transpose(1, 2).contiguous(), woT=wo.t().contiguous(), sT=s.t().contiguous(),
                D=D, A=A, L=L, DP=DP, AP=AP, HP=HP, skip=skip, act=ACT_IDS[model.activation])


def pack_objective(obj, DP: int, device):
    """(w [T], q [DP] zero-padded, lam, lo [A], hi [A]) as float32."""
    w = obj.step_weights.to(device=device, dtype=torch.float32).contiguous()
    q = torch.zeros(DP, dtype=torch.float32, device=device)
    q[:obj.state_weights.numel()] = obj.state_weights.to(torch.float32)
    lo = obj.lo.to(device=device, dtype=torch.float32).contiguous()
    hi = obj.hi.to(device=device, dtype=torch.float32).contiguous()
    return w, q, float(obj.action_penalty), lo, hi


def block_sizes(pk, rows: int, kernel: str = "", sm: int = 90):
    """Tile sizes: BN candidate rows per tile (16 or 32), BD/BA/BH output chunks (<= BLOCK_OUT,
    GBP_BLOCK_OUT for kernel "gbp"), BK* reduction chunks (<= BLOCK_K, GBP_BLOCK_K_* by compute
    capability `sm`, e.g. 80 or 90). Every one is a power of two >= 16 that divides its padded
    dimension, so the kernels loop over whole chunks."""
    BN = min(BLOCK_ROWS, max(16, triton.next_power_of_2(int(rows))))
    if kernel == "gbp":
        BO, BK = GBP_BLOCK_OUT, (GBP_BLOCK_K_SM90 if sm >= 90 else GBP_BLOCK_K_OLDER)
    else:
        BO, BK = BLOCK_OUT, BLOCK_K
    return dict(BN=BN, BD=min(pk["DP"], BO), BA=min(pk["AP"], BO), BH=min(pk["HP"], BO),
                BKD=min(pk["DP"], BK), BKA=min(pk["AP"], BK), BKH=min(pk["HP"], BK))


def num_programs(tiles: int, scratch_bytes_per_program: int, device) -> int:
    """Programs of a persistent grid: every tile gets one if the scratch fits SCRATCH_BUDGET."""
    cap = max(1, SCRATCH_BUDGET // max(1, scratch_bytes_per_program))
    if device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        cap = min(cap, 16 * sms)
    return max(1, min(tiles, cap))


def compute_capability(device) -> int:
    """major * 10 + minor of a CUDA device (90 for sm_90); 90 on CPU (the interpreter)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return 10 * major + minor
    return 90


def multiprocessors(device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 1


def scratch_layout(pk, bs, T: int, keep_pre: bool):
    """Per-program scratch sizes (floats): states, pre-activations, activations, dh, dz."""
    BN, DP, HP, L = bs["BN"], pk["DP"], pk["HP"], pk["L"]
    return dict(zs=(T + 1) * BN * DP, pre=(T * L * BN * HP) if keep_pre else 0, h=L * BN * HP,
                dh=2 * BN * HP, dz=2 * BN * DP)


def model_tensors(pk):
    """Forward weights in the order mlp_forward takes them."""
    return pk["wz"], pk["wa"], pk["wh"], pk["wo"], pk["s"], pk["bh"], pk["bo"]


def model_tensors_t(pk):
    """Transposed weights in the order mlp_backward takes them."""
    return pk["wzT"], pk["waT"], pk["whT"], pk["woT"], pk["sT"]


def meta(pk, bs, kernel, programs=None, sms=0):
    """The constexpr meta-parameters every kernel built on mlp_forward/mlp_backward takes, and the
    launch options of `kernel` (a key of LAUNCH) for a grid of `programs` on `sms` SMs."""
    opts = LAUNCH[kernel] if programs is None else launch_options(kernel, programs, sms)
    return dict(DP=pk["DP"], AP=pk["AP"], HP=pk["HP"], L=pk["L"], ACT=pk["act"], SKIP=pk["skip"],
                PREC=PRECISION, **opts, **bs)


def as_f32(t):
    return t.to(torch.float32).contiguous()


# ------------------------------------------------------------------------------------------------
# torch.library plumbing: the fused ops take the model and objective as plain tensors and scalars
# ------------------------------------------------------------------------------------------------
def library_args(model, obj):
    """(weights, biases, skip, activation, step_weights, state_weights, action_penalty, lo, hi):
    the model and objective as the torch.library ops of the Triton backend take them."""
    return (list(model.weights), list(model.biases), model.skip, model.activation,
            obj.step_weights, obj.state_weights, float(obj.action_penalty), obj.lo, obj.hi)


def library_unpack(weights, biases, skip, activation, step_weights, state_weights, action_penalty, lo, hi):
    """The inverse of library_args: (MLPWorldModel, ResolvedObjective)."""
    from ..model import MLPWorldModel
    from ..objective import ResolvedObjective
    return (MLPWorldModel(list(weights), list(biases), activation, skip),
            ResolvedObjective(step_weights, state_weights, action_penalty, lo, hi))
