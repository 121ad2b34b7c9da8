"""A whole gradient-based plan in one Triton launch (op triton_gbp_plan; schema:
wmkernels/ops/schema.py, maths: docs/maths.md).

Grid: one program per tile of BN candidates of one problem (persistent when the scratch would
exceed settings.SCRATCH_BUDGET). Each program runs every iteration for its tile: forward
rollout (states and pre-activations to its scratch), backward through time with the projected
Adam (or SGD) update and the Philox noise fused into the step that produces da_t, and after
the last iteration a final forward for the returned cost. Actions and Adam moments live in a
float32 work copy owned by the tile (L2 resident); the weights are read from L2 by every program.
The argmin over candidates (first minimum) and the history minimum run on the host.
"""
import torch
import triton
import triton.language as tl

from ... import _random
from .. import schema
from .._triton import packing
from .._triton.library import implements
from .._triton.mlp import UPDATE_ADAM, UPDATE_SGD, mlp_backward, mlp_forward


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
            cost = mlp_forward(
                z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
                a_ptr=a_tile, stride_an=T * A, stride_at=A, n_valid=n_valid,
                wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr,
                bo_ptr=bo_ptr, w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=pre, h_ptr=h,
                states_ptr=final_ptr, stride_sn=0, stride_st=0,
                T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
                BKH=BKH, ACT=ACT, SKIP=SKIP, KEEP_PRE=True, WRITE_STATES=False, PREC=PREC)
            tl.store(hist_ptr + (row0 + rn) * iters + k, cost, mask=rn < n_valid)
            bc1 = tl.load(bc_ptr + 2 * k)
            bc2 = tl.load(bc_ptr + 2 * k + 1)
            mlp_backward(
                goal_ptr=goal_ptr + p * D, a_ptr=a_tile, stride_an=T * A, stride_at=A, n_valid=n_valid,
                g_ptr=a_tile, m_ptr=m_ptr + row0 * (T * A), v_ptr=v_ptr + row0 * (T * A),
                wzT_ptr=wzT_ptr, waT_ptr=waT_ptr, whT_ptr=whT_ptr, woT_ptr=woT_ptr, sT_ptr=sT_ptr,
                w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=pre, dh_ptr=dh, dz_ptr=dz,
                lo_ptr=lo_ptr, hi_ptr=hi_ptr, lr=lr, beta1=beta1, beta2=beta2, eps=eps, bc1=bc1, bc2=bc2,
                noise=noise, key=key, step=k, p=p.to(tl.int32), n0=n0,
                T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
                BKH=BKH, ACT=ACT, SKIP=SKIP, UPDATE=OPT, NOISE=NOISE, PREC=PREC)
            tl.debug_barrier()
        cost = mlp_forward(
            z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
            a_ptr=a_tile, stride_an=T * A, stride_at=A, n_valid=n_valid,
            wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr,
            bo_ptr=bo_ptr, w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=pre, h_ptr=h,
            states_ptr=final_ptr, stride_sn=0, stride_st=0,
            T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA,
            BKH=BKH, ACT=ACT, SKIP=SKIP, KEEP_PRE=False, WRITE_STATES=False, PREC=PREC)
        tl.store(final_ptr + row0 + rn, cost, mask=rn < n_valid)
        tl.debug_barrier()


def gbp_forward(z0, goal, init, model, w, q, lam, lo, hi, iters, lr, optimizer, beta1, beta2, eps, noise,
                seed):
    """Launcher on float32 contiguous tensors (`model`: packing.pack_model's dict; w, q:
    packing.pack_objective's). Returns (actions [P, N, T, A] after the plan, final cost [P, N],
    per-candidate history [P, N, iters])."""
    P, N, T, A = init.shape
    dev = init.device
    D = model["D"]
    bs = packing.block_sizes(model, N, "gbp", packing.compute_capability(dev))
    actions = init.clone()
    m = torch.zeros_like(actions)
    v = torch.zeros_like(actions)
    hist = packing.alloc((P, N, iters), dev)
    final = packing.alloc((P, N), dev)
    k = torch.arange(1, iters + 1, dtype=torch.float64)
    bc = torch.stack([1.0 - beta1 ** k, 1.0 - beta2 ** k], dim=1).to(device=dev, dtype=torch.float32)
    tiles_per_problem = triton.cdiv(N, bs["BN"])
    num_tiles = P * tiles_per_problem
    scr = packing.scratch_layout(model, bs, T, keep_pre=True)
    names = ("zs", "pre", "h", "dh", "dz")
    G = packing.num_programs(num_tiles, 4 * sum(scr.values()), dev)
    bufs = {f"{n}_ptr": packing.alloc((G * scr[n],), dev) for n in names}
    _gbp_kernel[(G,)](
        z0_ptr=z0, goal_ptr=goal, a_ptr=actions, m_ptr=m, v_ptr=v, hist_ptr=hist, final_ptr=final, bc_ptr=bc,
        **packing.forward_weights(model), **packing.backward_weights(model),
        w_ptr=w, q_ptr=q, lam=lam, lo_ptr=lo, hi_ptr=hi, **bufs,
        N=N, T=T, D=D, A=A, iters=iters, num_tiles=num_tiles, tiles_per_problem=tiles_per_problem,
        **{f"scr_{n}": scr[n] for n in names},
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, noise=noise, key=seed + (_random.STREAM_NOISE << 32),
        OPT=UPDATE_ADAM if optimizer == "adam" else UPDATE_SGD, NOISE=noise > 0,
        **packing.meta(model, bs, "gbp"))
    return actions, final, hist


@implements("gbp_plan")
def gbp_plan(z0, goal, init, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
             lo, hi, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    """(best actions [P, T, A], their final cost [P], history [P, iters])."""
    model = packing.pack_model(weights, biases, skip, activation)
    w, q = packing.pack_objective(step_weights, state_weights, model["DP"])
    actions, final, hist = gbp_forward(z0, goal, init, model, w, q, action_penalty, lo, hi, iters, lr,
                                       schema.OPTIMIZERS[optimizer], beta1, beta2, eps, noise, seed)
    best = final.argmin(dim=1)
    rows = torch.arange(actions.shape[0], device=actions.device)
    return actions[rows, best], final[rows, best], hist.amin(dim=1)
