"""A whole gradient-based plan in one Triton launch.

Grid: one program per tile of BN candidates of one problem (persistent when the scratch would
exceed _triton_lib.SCRATCH_BUDGET). Each program runs every iteration for its tile: forward
rollout (states and pre-activations to its scratch), backward through time with the projected
Adam (or SGD) update and the Philox noise fused into the step that produces da_t, and after
the last iteration a final forward for the returned cost. Actions and Adam moments live in a
float32 work copy owned by the tile (L2 resident); the weights are read from L2 by every program.
The argmin over candidates (first minimum) and the history minimum run on the host.
"""
import torch
import triton
import triton.language as tl

from .. import _triton_lib as lib
from ... import _random


@triton.jit
def _gbp_kernel(
    z0_ptr, goal_ptr, a_ptr, m_ptr, v_ptr, hist_ptr, final_ptr, bc_ptr,
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,
    wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr,
    w_ptr, q_ptr, lam, lo_ptr, hi_ptr,
    zs_ptr, pre_ptr, h_ptr, dh_ptr, dz_ptr,
    N, T, D, A, iters, num_tiles, tiles_per_problem,
    scr_zs, scr_pre, scr_h, scr_dh, scr_dz,
    lr, beta1, beta2, eps, noise, key,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, PREC: tl.constexpr,
    OPT: tl.constexpr, NOISE: tl.constexpr,
):
    """For k = 0..iters-1, on every candidate a = a[p, n] of the tile:

        hist[p, n, k] = C(a);  g = dC/da  (fused forward + backward through time)
        Adam (OPT=1): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
                      a = clamp(a - lr (m / bc1_k) / (sqrt(v / bc2_k) + eps) + noise z_k, lo, hi)
        SGD  (OPT=2): a = clamp(a - lr g + noise z_k, lo, hi)
    with bc*_k = 1 - beta*^(k+1) (from bc_ptr) and z_k = normal(seed, STREAM_NOISE, k, p, n, t*A + j);
    then final[p, n] = C(a).
    """
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    pid64 = pid.to(tl.int64)
    zs = zs_ptr + pid64 * scr_zs
    pre = pre_ptr + pid64 * scr_pre
    h = h_ptr + pid64 * scr_h
    dh = dh_ptr + pid64 * scr_dh
    dz = dz_ptr + pid64 * scr_dz
    rn = tl.arange(0, BN)
    for tile in range(pid, num_tiles, nprog):
        p = (tile // tiles_per_problem).to(tl.int64)
        n0 = (tile % tiles_per_problem) * BN
        n_valid = N - n0
        row0 = p * N + n0
        a_tile = a_ptr + row0 * (T * A)
        for k in range(0, iters):
            cost = lib.mlp_forward(
                z0_ptr + p * D, goal_ptr + p * D, a_tile, T * A, A, n_valid,
                wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
                zs, pre, h, final_ptr, 0, 0,
                T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
                True, False, PREC)
            tl.store(hist_ptr + (row0 + rn) * iters + k, cost, mask=rn < n_valid)
            bc1 = tl.load(bc_ptr + 2 * k)
            bc2 = tl.load(bc_ptr + 2 * k + 1)
            lib.mlp_backward(
                goal_ptr + p * D, a_tile, T * A, A, n_valid, a_tile,
                m_ptr + row0 * (T * A), v_ptr + row0 * (T * A),
                wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr, w_ptr, q_ptr, lam,
                zs, pre, dh, dz,
                lo_ptr, hi_ptr, lr, beta1, beta2, eps, bc1, bc2, noise, key, k, p.to(tl.int32), n0,
                T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
                OPT, NOISE, PREC)
            tl.debug_barrier()
        cost = lib.mlp_forward(
            z0_ptr + p * D, goal_ptr + p * D, a_tile, T * A, A, n_valid,
            wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
            zs, pre, h, final_ptr, 0, 0,
            T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
            False, False, PREC)
        tl.store(final_ptr + row0 + rn, cost, mask=rn < n_valid)
        tl.debug_barrier()


def gbp_forward(model, z0, goal, obj, init, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    """Launcher: returns float32 (actions [P, N, T, A] after the plan, final cost [P, N],
    per-candidate history [P, N, iters])."""
    P, N, T, A = init.shape
    dev = init.device
    pk = lib.pack_model(model)
    D = pk["D"]
    bs = lib.block_sizes(pk, N, "gbp", lib.compute_capability(dev))
    w, q, lam, lo, hi = lib.pack_objective(obj, pk["DP"], dev)
    z0f, goalf = lib.as_f32(z0), lib.as_f32(goal)
    actions = init.to(torch.float32).clone().contiguous()
    m = torch.zeros_like(actions)
    v = torch.zeros_like(actions)
    hist = lib.alloc((P, N, iters), dev)
    final = lib.alloc((P, N), dev)
    k = torch.arange(1, iters + 1, dtype=torch.float64)
    bc = torch.stack([1.0 - beta1 ** k, 1.0 - beta2 ** k], dim=1).to(device=dev, dtype=torch.float32)
    tiles_per_problem = triton.cdiv(N, bs["BN"])
    num_tiles = P * tiles_per_problem
    scr = lib.scratch_layout(pk, bs, T, keep_pre=True)
    names = ("zs", "pre", "h", "dh", "dz")
    G = lib.num_programs(num_tiles, 4 * sum(scr.values()), dev)
    bufs = [lib.alloc((G * scr[n],), dev) for n in names]
    key = seed + (_random.STREAM_NOISE << 32)
    _gbp_kernel[(G,)](
        z0f, goalf, actions, m, v, hist, final, bc,
        *lib.model_tensors(pk), *lib.model_tensors_t(pk),
        w, q, lam, lo, hi, *bufs,
        N, T, D, A, iters, num_tiles, tiles_per_problem,
        *(scr[n] for n in names),
        lr, beta1, beta2, eps, noise, key,
        OPT=lib.UPDATE_ADAM if optimizer == "adam" else lib.UPDATE_SGD, NOISE=noise > 0,
        **lib.meta(pk, bs, "gbp", G, lib.multiprocessors(dev)))
    return actions, final, hist


def gbp_plan(model, z0, goal, obj, init, iters, lr, optimizer="adam", beta1=0.9, beta2=0.999,
             eps=1e-8, noise=0.0, seed=0):
    """(best actions [P, T, A], their final cost [P], history [P, iters]); see naive.gbp_plan."""
    actions, final, hist = gbp_forward(model, z0, goal, obj, init, iters, lr, optimizer,
                                       beta1, beta2, eps, noise, seed)
    best = final.argmin(dim=1)
    rows = torch.arange(actions.shape[0], device=actions.device)
    dtype = init.dtype
    return (actions[rows, best].to(dtype), final[rows, best].to(dtype),
            hist.amin(dim=1).to(dtype))


# ------------------------------------------------------------------------------------------------
# torch.library registration (opaque to torch.compile)
# ------------------------------------------------------------------------------------------------
from typing import List, Optional  # noqa: E402


@torch.library.custom_op("wmkernels::triton_gbp_plan", mutates_args=())
def _gbp_plan_op(z0: torch.Tensor, goal: torch.Tensor, init: torch.Tensor,
                 weights: List[torch.Tensor], biases: List[torch.Tensor], skip: Optional[torch.Tensor],
                 activation: str, step_weights: torch.Tensor, state_weights: torch.Tensor,
                 action_penalty: float, lo: torch.Tensor, hi: torch.Tensor, iters: int, lr: float,
                 optimizer: str, beta1: float, beta2: float, eps: float, noise: float,
                 seed: int) -> List[torch.Tensor]:
    """[actions [P, T, A], cost [P], history [P, iters]] of the fused GBP kernel."""
    model, obj = lib.library_unpack(weights, biases, skip, activation, step_weights, state_weights,
                                    action_penalty, lo, hi)
    return list(gbp_plan(model, z0, goal, obj, init, iters, lr, optimizer, beta1, beta2, eps, noise, seed))


@_gbp_plan_op.register_fake
def _(z0, goal, init, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
      lo, hi, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    P, _, T, A = init.shape
    return [init.new_empty((P, T, A)), init.new_empty((P,)), init.new_empty((P, iters))]


def gbp_plan_op(model, z0, goal, obj, init, iters, lr, optimizer="adam", beta1=0.9, beta2=0.999,
                eps=1e-8, noise=0.0, seed=0):
    """gbp_plan through torch.ops.wmkernels.triton_gbp_plan (for torch.compile'd callers)."""
    return tuple(torch.ops.wmkernels.triton_gbp_plan(
        z0, goal, init, *lib.library_args(model, obj), iters, lr, optimizer, beta1, beta2, eps, noise, seed))
