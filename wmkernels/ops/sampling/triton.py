"""Whole sampling-based plans (CEM, MPPI) with fused Triton kernels.

Two paths, the same numbers (see naive.py for the maths):

- fused (one launch for the whole plan), when there are enough problems to fill the GPU
  (P >= FUSED_MIN_PROBLEMS, default: the number of SMs): one program per problem (persistent
  over problems when the scratch would not fit). Every iteration it samples its S candidates
  tile by tile into a per-program scratch (Philox, stream STREAM_SAMPLE, sample 0 = the
  mean), rolls each tile out, then selects (CEM: top-k by sort + threshold; MPPI: softmax
  weights) and refits mean/std with momentum. Mean and std stay in the program's rows.
- multi-launch (few problems, many samples: e.g. tdmpc-mppi with P=1), per iteration a
  sample+rollout kernel over all (problem, sample tile) pairs and a refit kernel with one
  program per problem; a final rollout kernel gives the mean's cost.

CEM elites are the `elites` lowest costs; exact ties at the threshold go to the lowest sample
index. History: mean elite cost (CEM) or softmax-weighted cost (MPPI).
"""
import torch
import triton
import triton.language as tl

from .. import _triton_lib as lib
from ... import _random
from ..rollouts import triton as rollouts_triton

# Problems from which the whole plan runs in one launch (None: the device's SM count).
FUSED_MIN_PROBLEMS = None


@triton.jit
def _sample_tile(cand_ptr, mean_ptr, std_ptr, lo_ptr, hi_ptr, key, k, p, s0, TA, A,
                 BN: tl.constexpr, BC: tl.constexpr):
    """cand[r, i] = clamp(mean[i] + std[i] eps, lo[i % A], hi[i % A]) for rows r of the tile,
    eps = normal(seed, STREAM_SAMPLE, k, p, s0 + r, i) (0 for sample 0); i = t*A + j."""
    rn = tl.arange(0, BN)
    rc = tl.arange(0, BC)
    for c0 in range(0, TA, BC):
        cc = c0 + rc
        cm = cc < TA
        s = s0 + rn
        eps = lib.normal_draw(key, k, p, s[:, None] + tl.zeros([BN, BC], dtype=tl.int32),
                              cc[None, :] + tl.zeros([BN, BC], dtype=tl.int32))
        eps = tl.where(s[:, None] == 0, 0.0, eps)
        mu = tl.load(mean_ptr + cc, mask=cm, other=0.0)
        sd = tl.load(std_ptr + cc, mask=cm, other=0.0)
        lo = tl.load(lo_ptr + cc % A, mask=cm, other=0.0)
        hi = tl.load(hi_ptr + cc % A, mask=cm, other=0.0)
        x = mu[None, :] + sd[None, :] * eps
        x = tl.minimum(tl.maximum(x, lo[None, :]), hi[None, :])
        tl.store(cand_ptr + rn[:, None] * TA + cc[None, :], x, mask=cm[None, :])


@triton.jit
def _refit(cost_ptr, wgt_ptr, cand_ptr, mean_ptr, std_ptr, hist_ptr, S, E, TA, temperature, momentum,
           SP: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, CEM: tl.constexpr):
    """Weights over the S samples of one problem, history, and the momentum-blended refit.

    CEM: w_s = 1/E on the E lowest costs (threshold = E-th smallest by tl.sort), else 0;
         mean' = sum_s w_s a_s, std' = sqrt(sum_s w_s (a_s - mean')^2), hist = sum_s w_s c_s.
    MPPI: w = softmax(-c / temperature); mean' = sum_s w_s a_s; std unchanged.
    mean = momentum mean + (1 - momentum) mean' (std likewise for CEM).
    """
    rs = tl.arange(0, SP)
    c = tl.load(cost_ptr + rs, mask=rs < S, other=float("inf"))
    if CEM:
        srt = tl.sort(c)
        thr = tl.sum(tl.where(rs == E - 1, srt, 0.0))
        less = c < thr
        eq = c == thr
        nless = tl.sum(less.to(tl.int32))
        rank = tl.cumsum(eq.to(tl.int32), 0)
        elite = less | (eq & (rank <= E - nless))
        wgt = tl.where(elite, 1.0 / E, 0.0)
    else:
        cmin = tl.min(c)
        e = tl.where(rs < S, tl.exp((cmin - c) / temperature), 0.0)
        wgt = e / tl.sum(e)
    tl.store(hist_ptr, tl.sum(wgt * tl.where(rs < S, c, 0.0)))
    tl.store(wgt_ptr + rs, wgt)
    tl.debug_barrier()
    rn = tl.arange(0, BN)
    rc = tl.arange(0, BC)
    for c0 in range(0, TA, BC):
        cc = c0 + rc
        cm = cc < TA
        acc = tl.zeros([BC], dtype=tl.float32)
        for s0 in range(0, S, BN):
            w = tl.load(wgt_ptr + s0 + rn)
            x = tl.load(cand_ptr + (s0 + rn)[:, None] * TA + cc[None, :], mask=cm[None, :], other=0.0)
            acc += tl.sum(w[:, None] * x, axis=0)
        if CEM:
            var = tl.zeros([BC], dtype=tl.float32)
            for s0 in range(0, S, BN):
                w = tl.load(wgt_ptr + s0 + rn)
                x = tl.load(cand_ptr + (s0 + rn)[:, None] * TA + cc[None, :], mask=cm[None, :], other=0.0)
                d = x - acc[None, :]
                var += tl.sum(w[:, None] * d * d, axis=0)
            sd = tl.load(std_ptr + cc, mask=cm, other=0.0)
            tl.store(std_ptr + cc, momentum * sd + (1.0 - momentum) * tl.sqrt(var), mask=cm)
        mu = tl.load(mean_ptr + cc, mask=cm, other=0.0)
        tl.store(mean_ptr + cc, momentum * mu + (1.0 - momentum) * acc, mask=cm)
    tl.debug_barrier()


@triton.jit
def _sampling_plan_kernel(
    z0_ptr, goal_ptr, mean_ptr, std_ptr, hist_ptr, final_ptr,
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,
    w_ptr, q_ptr, lam, lo_ptr, hi_ptr,
    cand_ptr, cost_ptr, wgt_ptr, zs_ptr, h_ptr,
    P, S, E, T, D, A, iters, key, temperature, momentum,
    scr_cand, scr_zs, scr_h,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, PREC: tl.constexpr,
    SP: tl.constexpr, BC: tl.constexpr, CEM: tl.constexpr,
):
    """A whole CEM (CEM=True) or MPPI plan per problem p, all iterations in this program:
    for k: sample S candidates (_sample_tile), cost them (mlp_forward), _refit mean/std;
    finally final[p] = C(mean) (one rollout with every row reading the mean)."""
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    pid64 = pid.to(tl.int64)
    cand = cand_ptr + pid64 * scr_cand
    costs = cost_ptr + pid64 * SP
    wgt = wgt_ptr + pid64 * SP
    zs = zs_ptr + pid64 * scr_zs
    h = h_ptr + pid64 * scr_h
    rn = tl.arange(0, BN)
    TA = T * A
    for pp in range(pid, P, nprog):
        p = tl.cast(pp, tl.int64)
        mean = mean_ptr + p * TA
        std = std_ptr + p * TA
        for k in range(0, iters):
            for s0 in range(0, S, BN):
                _sample_tile(cand + s0 * TA, mean, std, lo_ptr, hi_ptr, key, k, pp, s0, TA, A, BN, BC)
                tl.debug_barrier()
                cost = lib.mlp_forward(
                    z0_ptr + p * D, goal_ptr + p * D, cand + s0 * TA, TA, A, BN,
                    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
                    zs, h, h, final_ptr, 0, 0,
                    T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
                    False, False, PREC)
                tl.store(costs + s0 + rn, cost)
            tl.debug_barrier()
            _refit(costs, wgt, cand, mean, std, hist_ptr + p * iters + k, S, E, TA, temperature, momentum,
                   SP, BN, BC, CEM)
        cost = lib.mlp_forward(
            z0_ptr + p * D, goal_ptr + p * D, mean, 0, A, 1,
            wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
            zs, h, h, final_ptr, 0, 0,
            T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
            False, False, PREC)
        tl.store(final_ptr + p + rn, cost, mask=rn < 1)
        tl.debug_barrier()


@triton.jit
def _sample_rollout_kernel(
    z0_ptr, goal_ptr, mean_ptr, std_ptr, cand_ptr, cost_ptr,
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,
    w_ptr, q_ptr, lam, lo_ptr, hi_ptr,
    zs_ptr, h_ptr,
    T, D, A, k, key, num_tiles, tiles_per_problem, scr_zs, scr_h,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, PREC: tl.constexpr,
    SP: tl.constexpr, BC: tl.constexpr,
):
    """Iteration k of the multi-launch path, one tile of BN samples of one problem:
    cand[p, s] = clamp(mean_p + std_p eps, lo, hi) (_sample_tile); cost[p, s] = C(cand[p, s])."""
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    pid64 = pid.to(tl.int64)
    zs = zs_ptr + pid64 * scr_zs
    h = h_ptr + pid64 * scr_h
    rn = tl.arange(0, BN)
    TA = T * A
    for tile in range(pid, num_tiles, nprog):
        pp = tile // tiles_per_problem
        p = tl.cast(pp, tl.int64)
        s0 = (tile % tiles_per_problem) * BN
        rows = cand_ptr + (p * SP + s0) * TA
        _sample_tile(rows, mean_ptr + p * TA, std_ptr + p * TA, lo_ptr, hi_ptr, key, k, pp, s0, TA, A, BN, BC)
        tl.debug_barrier()
        cost = lib.mlp_forward(
            z0_ptr + p * D, goal_ptr + p * D, rows, TA, A, BN,
            wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
            zs, h, h, cost_ptr, 0, 0,
            T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
            False, False, PREC)
        tl.store(cost_ptr + p * SP + s0 + rn, cost)
        tl.debug_barrier()


@triton.jit
def _refit_kernel(cand_ptr, cost_ptr, wgt_ptr, mean_ptr, std_ptr, hist_ptr,
                  S, E, T, A, k, iters, temperature, momentum,
                  SP: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, CEM: tl.constexpr):
    """Iteration k of the multi-launch path, problem p = program id: _refit of mean/std."""
    p = tl.program_id(0).to(tl.int64)
    TA = T * A
    _refit(cost_ptr + p * SP, wgt_ptr + p * SP, cand_ptr + p * SP * TA, mean_ptr + p * TA, std_ptr + p * TA,
           hist_ptr + p * iters + k, S, E, TA, temperature, momentum, SP, BN, BC, CEM)


def column_block(TA):
    """Columns (flattened t*A + j) per sampling/refit chunk: [BN, BC] Philox states stay small."""
    return min(16, triton.next_power_of_2(TA))


def _use_fused(P, device):
    threshold = FUSED_MIN_PROBLEMS
    if threshold is None:
        threshold = lib.multiprocessors(device)
    return P >= threshold


def sampling_forward(model, z0, goal, obj, mean, std, samples, iters, momentum, seed,
                     elites=1, temperature=1.0, cem=True):
    """Launcher for both paths; returns float32 (mean [P, T, A], its cost [P], history [P, iters])."""
    P, T, A = mean.shape
    dev = mean.device
    S = samples
    pk = lib.pack_model(model)
    D = pk["D"]
    bs = lib.block_sizes(pk, S)
    SP = lib.pad_dim(S)
    TA = T * A
    BC = column_block(TA)
    w, q, lam, lo, hi = lib.pack_objective(obj, pk["DP"], dev)
    z0f, goalf = lib.as_f32(z0), lib.as_f32(goal)
    mean_w = mean.to(torch.float32).clone().contiguous()
    std_w = std.to(torch.float32).clone().contiguous()
    hist = lib.alloc((P, iters), dev)
    key = seed + (_random.STREAM_SAMPLE << 32)
    scr = lib.scratch_layout(pk, bs, T, keep_pre=False)
    sampling_meta = dict(SP=SP, BC=BC, **lib.meta(pk, bs, "sampling_plan"))
    if _use_fused(P, dev):
        final = lib.alloc((P,), dev)
        per_program = SP * TA + 2 * SP + scr["zs"] + scr["h"]
        G = lib.num_programs(P, 4 * per_program, dev)
        cand = lib.alloc((G * SP * TA,), dev)
        costs = lib.alloc((G * SP,), dev)
        wgt = lib.alloc((G * SP,), dev)
        zs = lib.alloc((G * scr["zs"],), dev)
        h = lib.alloc((G * scr["h"],), dev)
        _sampling_plan_kernel[(G,)](
            z0f, goalf, mean_w, std_w, hist, final, *lib.model_tensors(pk),
            w, q, lam, lo, hi, cand, costs, wgt, zs, h,
            P, S, elites, T, D, A, iters, key, temperature, momentum,
            SP * TA, scr["zs"], scr["h"], CEM=cem, **sampling_meta)
        return mean_w, final, hist
    cand = lib.alloc((P * SP * TA,), dev)
    costs = lib.alloc((P * SP,), dev)
    wgt = lib.alloc((P * SP,), dev)
    tiles_per_problem = triton.cdiv(S, bs["BN"])   # tiles wholly past S are never sampled
    num_tiles = P * tiles_per_problem
    G = lib.num_programs(num_tiles, 4 * (scr["zs"] + scr["h"]), dev)
    zs = lib.alloc((G * scr["zs"],), dev)
    h = lib.alloc((G * scr["h"],), dev)
    for k in range(iters):
        _sample_rollout_kernel[(G,)](
            z0f, goalf, mean_w, std_w, cand, costs, *lib.model_tensors(pk),
            w, q, lam, lo, hi, zs, h,
            T, D, A, k, key, num_tiles, tiles_per_problem, scr["zs"], scr["h"],
            SP=SP, BC=BC, **lib.meta(pk, bs, "sample_rollout"))
        _refit_kernel[(P,)](
            cand, costs, wgt, mean_w, std_w, hist, S, elites, T, A, k, iters, temperature, momentum,
            SP=SP, BN=bs["BN"], BC=BC, CEM=cem, **lib.LAUNCH["refit"])
    final, _, _ = rollouts_triton.rollout_forward(model, z0, mean_w[:, None], goal, obj)
    return mean_w, final[:, 0], hist


def cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, momentum=0.0, seed=0):
    """(mean [P, T, A], its cost [P], mean elite cost history [P, iters]); see naive.cem_plan."""
    out = sampling_forward(model, z0, goal, obj, mean, std, samples, iters, momentum, seed,
                           elites=elites, cem=True)
    return tuple(t.to(mean.dtype) for t in out)


def mppi_plan(model, z0, goal, obj, mean, std, samples, iters, temperature=1.0, momentum=0.0, seed=0):
    """(mean [P, T, A], its cost [P], softmax-weighted cost history [P, iters]); see naive.mppi_plan."""
    out = sampling_forward(model, z0, goal, obj, mean, std, samples, iters, momentum, seed,
                           temperature=temperature, cem=False)
    return tuple(t.to(mean.dtype) for t in out)


# ------------------------------------------------------------------------------------------------
# torch.library registration (opaque to torch.compile)
# ------------------------------------------------------------------------------------------------
from typing import List, Optional  # noqa: E402


def _plan_fake(mean, iters):
    P = mean.shape[0]
    return [torch.empty_like(mean), mean.new_empty((P,)), mean.new_empty((P, iters))]


@torch.library.custom_op("wmkernels::triton_cem_plan", mutates_args=())
def _cem_plan_op(z0: torch.Tensor, goal: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                 weights: List[torch.Tensor], biases: List[torch.Tensor], skip: Optional[torch.Tensor],
                 activation: str, step_weights: torch.Tensor, state_weights: torch.Tensor,
                 action_penalty: float, lo: torch.Tensor, hi: torch.Tensor, samples: int, elites: int,
                 iters: int, momentum: float, seed: int) -> List[torch.Tensor]:
    """[mean [P, T, A], cost [P], history [P, iters]] of the fused CEM kernels."""
    model, obj = lib.library_unpack(weights, biases, skip, activation, step_weights, state_weights,
                                    action_penalty, lo, hi)
    return list(cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, momentum, seed))


@_cem_plan_op.register_fake
def _(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
      action_penalty, lo, hi, samples, elites, iters, momentum, seed):
    return _plan_fake(mean, iters)


@torch.library.custom_op("wmkernels::triton_mppi_plan", mutates_args=())
def _mppi_plan_op(z0: torch.Tensor, goal: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                  weights: List[torch.Tensor], biases: List[torch.Tensor], skip: Optional[torch.Tensor],
                  activation: str, step_weights: torch.Tensor, state_weights: torch.Tensor,
                  action_penalty: float, lo: torch.Tensor, hi: torch.Tensor, samples: int, iters: int,
                  temperature: float, momentum: float, seed: int) -> List[torch.Tensor]:
    """[mean [P, T, A], cost [P], history [P, iters]] of the fused MPPI kernels."""
    model, obj = lib.library_unpack(weights, biases, skip, activation, step_weights, state_weights,
                                    action_penalty, lo, hi)
    return list(mppi_plan(model, z0, goal, obj, mean, std, samples, iters, temperature, momentum, seed))


@_mppi_plan_op.register_fake
def _(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
      action_penalty, lo, hi, samples, iters, temperature, momentum, seed):
    return _plan_fake(mean, iters)


def cem_plan_op(model, z0, goal, obj, mean, std, samples, elites, iters, momentum=0.0, seed=0):
    """cem_plan through torch.ops.wmkernels.triton_cem_plan (for torch.compile'd callers)."""
    return tuple(torch.ops.wmkernels.triton_cem_plan(
        z0, goal, mean, std, *lib.library_args(model, obj), samples, elites, iters, momentum, seed))


def mppi_plan_op(model, z0, goal, obj, mean, std, samples, iters, temperature=1.0, momentum=0.0, seed=0):
    """mppi_plan through torch.ops.wmkernels.triton_mppi_plan (for torch.compile'd callers)."""
    return tuple(torch.ops.wmkernels.triton_mppi_plan(
        z0, goal, mean, std, *lib.library_args(model, obj), samples, iters, temperature, momentum, seed))
