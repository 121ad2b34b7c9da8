"""Whole sampling-based plans (CEM, MPPI) with fused Triton kernels (ops triton_cem_plan,
triton_mppi_plan; schema: wmkernels/ops/schema.py, maths: docs/maths.md).

Two paths, the same numbers:

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

from ... import _random
from .._triton import packing, settings
from .._triton.device import normal_draw
from .._triton.library import implements
from .._triton.mlp import mlp_forward
from ..rollouts.triton import rollout_forward

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
        eps = normal_draw(key, k, p, s[:, None] + tl.zeros([BN, BC], dtype=tl.int32),
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
def _refit(cost_ptr, wgt_ptr, cand_ptr, mean_ptr, std_ptr, hist_ptr, lo_ptr, hi_ptr, S, E, TA, A, temperature,
           momentum, SP: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, CEM: tl.constexpr):
    """Weights over the S samples of one problem, history, and the momentum-blended refit.

    CEM: w_s = 1/E on the E lowest costs (threshold = E-th smallest by tl.sort), else 0;
         mean' = sum_s w_s a_s, std' = sqrt(sum_s w_s (a_s - mean')^2), hist = sum_s w_s c_s.
    MPPI: w = softmax(-c / temperature); mean' = sum_s w_s a_s; std unchanged.
    mean = clamp(momentum mean + (1 - momentum) mean', lo, hi) (std blended likewise for CEM).
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
        lo = tl.load(lo_ptr + cc % A, mask=cm, other=0.0)
        hi = tl.load(hi_ptr + cc % A, mask=cm, other=0.0)
        mu = tl.minimum(tl.maximum(momentum * mu + (1.0 - momentum) * acc, lo), hi)
        tl.store(mean_ptr + cc, mu, mask=cm)
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
                _sample_tile(cand_ptr=cand + s0 * TA, mean_ptr=mean, std_ptr=std, lo_ptr=lo_ptr, hi_ptr=hi_ptr,
                    key=key, k=k, p=pp, s0=s0, TA=TA, A=A, BN=BN, BC=BC)
                tl.debug_barrier()
                cost = mlp_forward(
                    z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
                    a_ptr=cand + s0 * TA, stride_an=TA, stride_at=A, n_valid=BN,
                    wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr,
                    bo_ptr=bo_ptr, w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=h, h_ptr=h,
                    states_ptr=final_ptr, stride_sn=0, stride_st=0,
                    T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
                    BKH=BKH, ACT=ACT, SKIP=SKIP, KEEP_PRE=False, WRITE_STATES=False, PREC=PREC)
                tl.store(costs + s0 + rn, cost)
            tl.debug_barrier()
            _refit(cost_ptr=costs, wgt_ptr=wgt, cand_ptr=cand, mean_ptr=mean, std_ptr=std,
                hist_ptr=hist_ptr + p * iters + k, lo_ptr=lo_ptr, hi_ptr=hi_ptr, S=S, E=E, TA=TA, A=A,
                temperature=temperature, momentum=momentum, SP=SP, BN=BN, BC=BC, CEM=CEM)
        cost = mlp_forward(
            z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
            a_ptr=mean, stride_an=0, stride_at=A, n_valid=1,
            wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr,
            bo_ptr=bo_ptr, w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=h, h_ptr=h,
            states_ptr=final_ptr, stride_sn=0, stride_st=0,
            T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
            BKH=BKH, ACT=ACT, SKIP=SKIP, KEEP_PRE=False, WRITE_STATES=False, PREC=PREC)
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
        _sample_tile(cand_ptr=rows, mean_ptr=mean_ptr + p * TA, std_ptr=std_ptr + p * TA, lo_ptr=lo_ptr,
            hi_ptr=hi_ptr, key=key, k=k, p=pp, s0=s0, TA=TA, A=A, BN=BN, BC=BC)
        tl.debug_barrier()
        cost = mlp_forward(
            z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
            a_ptr=rows, stride_an=TA, stride_at=A, n_valid=BN,
            wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr,
            bo_ptr=bo_ptr, w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=h, h_ptr=h,
            states_ptr=cost_ptr, stride_sn=0, stride_st=0,
            T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
            BKH=BKH, ACT=ACT, SKIP=SKIP, KEEP_PRE=False, WRITE_STATES=False, PREC=PREC)
        tl.store(cost_ptr + p * SP + s0 + rn, cost)
        tl.debug_barrier()


@triton.jit
def _refit_kernel(cand_ptr, cost_ptr, wgt_ptr, mean_ptr, std_ptr, hist_ptr, lo_ptr, hi_ptr,
                  S, E, T, A, k, iters, temperature, momentum,
                  SP: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, CEM: tl.constexpr):
    """Iteration k of the multi-launch path, problem p = program id: _refit of mean/std."""
    p = tl.program_id(0).to(tl.int64)
    TA = T * A
    _refit(cost_ptr=cost_ptr + p * SP, wgt_ptr=wgt_ptr + p * SP, cand_ptr=cand_ptr + p * SP * TA,
        mean_ptr=mean_ptr + p * TA, std_ptr=std_ptr + p * TA, hist_ptr=hist_ptr + p * iters + k, lo_ptr=lo_ptr,
        hi_ptr=hi_ptr, S=S, E=E, TA=TA, A=A, temperature=temperature, momentum=momentum, SP=SP, BN=BN, BC=BC, CEM=CEM)


def column_block(TA):
    """Columns (flattened t*A + j) per sampling/refit chunk: [BN, BC] Philox states stay small."""
    return min(16, triton.next_power_of_2(TA))


def _use_fused(P, device):
    threshold = FUSED_MIN_PROBLEMS
    if threshold is None:
        threshold = packing.multiprocessors(device)
    return P >= threshold


def sampling_forward(z0, goal, mean, std, model, w, q, lam, lo, hi, samples, iters, momentum, seed,
                     elites=1, temperature=1.0, cem=True):
    """Launcher for both paths on float32 contiguous tensors (`model`: packing.pack_model's
    dict; w, q: packing.pack_objective's); returns (mean [P, T, A], its cost [P],
    history [P, iters])."""
    P, T, A = mean.shape
    dev = mean.device
    S = samples
    D = model["D"]
    bs = packing.block_sizes(model, S)
    SP = packing.pad_dim(S)
    TA = T * A
    BC = column_block(TA)
    mean_w = mean.clone()
    std_w = std.clone()
    hist = packing.alloc((P, iters), dev)
    key = seed + (_random.STREAM_SAMPLE << 32)
    scr = packing.scratch_layout(model, bs, T, keep_pre=False)
    weights = packing.forward_weights(model)
    objective = dict(w_ptr=w, q_ptr=q, lam=lam, lo_ptr=lo, hi_ptr=hi)
    if _use_fused(P, dev):
        final = packing.alloc((P,), dev)
        per_program = SP * TA + 2 * SP + scr["zs"] + scr["h"]
        G = packing.num_programs(P, 4 * per_program, dev)
        _sampling_plan_kernel[(G,)](
            z0_ptr=z0, goal_ptr=goal, mean_ptr=mean_w, std_ptr=std_w, hist_ptr=hist, final_ptr=final,
            **weights, **objective,
            cand_ptr=packing.alloc((G * SP * TA,), dev), cost_ptr=packing.alloc((G * SP,), dev),
            wgt_ptr=packing.alloc((G * SP,), dev), zs_ptr=packing.alloc((G * scr["zs"],), dev),
            h_ptr=packing.alloc((G * scr["h"],), dev),
            P=P, S=S, E=elites, T=T, D=D, A=A, iters=iters, key=key, temperature=temperature, momentum=momentum,
            scr_cand=SP * TA, scr_zs=scr["zs"], scr_h=scr["h"],
            SP=SP, BC=BC, CEM=cem, **packing.meta(model, bs, "sampling_plan"))
        return mean_w, final, hist
    cand = packing.alloc((P * SP * TA,), dev)
    costs = packing.alloc((P * SP,), dev)
    wgt = packing.alloc((P * SP,), dev)
    tiles_per_problem = triton.cdiv(S, bs["BN"])   # tiles wholly past S are never sampled
    num_tiles = P * tiles_per_problem
    G = packing.num_programs(num_tiles, 4 * (scr["zs"] + scr["h"]), dev)
    zs = packing.alloc((G * scr["zs"],), dev)
    h = packing.alloc((G * scr["h"],), dev)
    for k in range(iters):
        _sample_rollout_kernel[(G,)](
            z0_ptr=z0, goal_ptr=goal, mean_ptr=mean_w, std_ptr=std_w, cand_ptr=cand, cost_ptr=costs,
            **weights, **objective, zs_ptr=zs, h_ptr=h,
            T=T, D=D, A=A, k=k, key=key, num_tiles=num_tiles, tiles_per_problem=tiles_per_problem,
            scr_zs=scr["zs"], scr_h=scr["h"],
            SP=SP, BC=BC, **packing.meta(model, bs, "sample_rollout"))
        _refit_kernel[(P,)](
            cand_ptr=cand, cost_ptr=costs, wgt_ptr=wgt, mean_ptr=mean_w, std_ptr=std_w, hist_ptr=hist, lo_ptr=lo,
            hi_ptr=hi, S=S, E=elites, T=T, A=A, k=k, iters=iters, temperature=temperature, momentum=momentum,
            SP=SP, BN=bs["BN"], BC=BC, CEM=cem, **settings.LAUNCH["refit"])
    final, _, _ = rollout_forward(z0, goal, mean_w[:, None], model, w, q, lam)
    return mean_w, final[:, 0], hist


def _plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
          lo, hi, **settings_):
    model = packing.pack_model(weights, biases, skip, activation)
    w, q = packing.pack_objective(step_weights, state_weights, model["DP"])
    return sampling_forward(z0, goal, mean, std, model, w, q, action_penalty, lo, hi, **settings_)


@implements("cem_plan")
def cem_plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
             action_penalty, lo, hi, samples, elites, iters, momentum, seed):
    """(mean [P, T, A], its cost [P], mean elite cost history [P, iters])."""
    return _plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
                 action_penalty, lo, hi, samples=samples, iters=iters, momentum=momentum, seed=seed,
                 elites=elites, cem=True)


@implements("mppi_plan")
def mppi_plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
              action_penalty, lo, hi, samples, iters, temperature, momentum, seed):
    """(mean [P, T, A], its cost [P], softmax-weighted cost history [P, iters])."""
    return _plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
                 action_penalty, lo, hi, samples=samples, iters=iters, momentum=momentum, seed=seed,
                 temperature=temperature, cem=False)
