"""Fused Triton rollout and rollout gradient of an MLPWorldModel (ops triton_rollout,
triton_rollout_grad; schema: wmkernels/ops/schema.py, maths: docs/maths.md).

One program owns a tile of BN candidates of one problem (a persistent grid loops over tiles
when the scratch would exceed settings.SCRATCH_BUDGET). The whole horizon runs inside the
program: states and pre-activations of every step go to a per-program scratch buffer (L1/L2
resident) that the backward through time reads back.
"""
import torch
import triton
import triton.language as tl

from .._triton import packing
from .._triton.library import implements
from .._triton.mlp import mlp_backward, mlp_forward


@triton.jit
def _rollout_kernel(
    z0_ptr, goal_ptr, a_ptr, cost_ptr, grad_ptr, states_ptr,
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,
    wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr,
    w_ptr, q_ptr, lam,
    zs_ptr, pre_ptr, h_ptr, dh_ptr, dz_ptr,
    N, T, D, A, num_tiles, tiles_per_problem,
    scr_zs, scr_pre, scr_h, scr_dh, scr_dz,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, PREC: tl.constexpr,
    GRAD: tl.constexpr, WRITE_STATES: tl.constexpr,
):
    """For each candidate n of problem p (tile = BN candidates):

        z_0 = z0_p;  z_{t+1} = z_t S + MLP([z_t, a_{p,n,t}])
        cost[p, n] = sum_t w_t sum_d q_d (z_{t+1,d} - g_{p,d})^2 + lam sum_t ||a_{p,n,t}||^2
        states[p, n, t] = z_t                       (WRITE_STATES)
        grad[p, n, t] = d cost[p, n] / d a_{p,n,t}  (GRAD; backward through time on chip)
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
        cost = mlp_forward(
            z0_ptr=z0_ptr + p * D, goal_ptr=goal_ptr + p * D,
            a_ptr=a_tile, stride_an=T * A, stride_at=A, n_valid=n_valid,
            wz_ptr=wz_ptr, wa_ptr=wa_ptr, wh_ptr=wh_ptr, wo_ptr=wo_ptr, s_ptr=s_ptr, bh_ptr=bh_ptr, bo_ptr=bo_ptr,
            w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=pre, h_ptr=h,
            states_ptr=states_ptr + row0 * ((T + 1) * D), stride_sn=(T + 1) * D, stride_st=D,
            T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA, BKH=BKH,
            ACT=ACT, SKIP=SKIP, KEEP_PRE=GRAD, WRITE_STATES=WRITE_STATES, PREC=PREC)
        tl.store(cost_ptr + row0 + rn, cost, mask=rn < n_valid)
        if GRAD:
            mlp_backward(
                goal_ptr=goal_ptr + p * D, a_ptr=a_tile, stride_an=T * A, stride_at=A, n_valid=n_valid,
                g_ptr=grad_ptr + row0 * (T * A), m_ptr=a_tile, v_ptr=a_tile,
                wzT_ptr=wzT_ptr, waT_ptr=waT_ptr, whT_ptr=whT_ptr, woT_ptr=woT_ptr, sT_ptr=sT_ptr,
                w_ptr=w_ptr, q_ptr=q_ptr, lam=lam, zs_ptr=zs, pre_ptr=pre, dh_ptr=dh, dz_ptr=dz,
                # the update arguments are unused with UPDATE=0 (store the gradient)
                lo_ptr=w_ptr, hi_ptr=w_ptr, lr=0.0, beta1=0.0, beta2=0.0, eps=1.0, bc1=1.0, bc2=1.0, noise=0.0,
                key=0, step=0, p=0, n0=0,
                T=T, D=D, A=A, DP=DP, AP=AP, HP=HP, L=L, BN=BN, BD=BD, BA=BA, BH=BH, BKD=BKD, BKA=BKA, BKH=BKH,
                ACT=ACT, SKIP=SKIP, UPDATE=0, NOISE=False, PREC=PREC)
        tl.debug_barrier()


def rollout_forward(z0, goal, actions, model, w, q, lam, return_states=False, grad=False):
    """Launcher on float32 contiguous tensors; `model` is packing.pack_model's dict, w and q
    packing.pack_objective's. Returns (cost [P, N], states [P, N, T+1, D] or None,
    grad [P, N, T, A] or None)."""
    P, N, T, A = actions.shape
    dev = actions.device
    D = model["D"]
    bs = packing.block_sizes(model, N)
    cost = packing.alloc((P, N), dev)
    states = packing.alloc((P, N, T + 1, D), dev) if return_states else cost
    g = packing.alloc((P, N, T, A), dev) if grad else cost
    tiles_per_problem = triton.cdiv(N, bs["BN"])
    num_tiles = P * tiles_per_problem
    scr = packing.scratch_layout(model, bs, T, keep_pre=grad)
    if not grad:
        scr["dh"] = scr["dz"] = 0
    names = ("zs", "pre", "h", "dh", "dz")
    G = packing.num_programs(num_tiles, 4 * sum(scr.values()), dev)
    bufs = {f"{n}_ptr": packing.alloc((max(G * scr[n], 1),), dev) for n in names}
    _rollout_kernel[(G,)](
        z0_ptr=z0, goal_ptr=goal, a_ptr=actions, cost_ptr=cost, grad_ptr=g, states_ptr=states,
        **packing.forward_weights(model), **packing.backward_weights(model), w_ptr=w, q_ptr=q, lam=lam, **bufs,
        N=N, T=T, D=D, A=A, num_tiles=num_tiles, tiles_per_problem=tiles_per_problem,
        **{f"scr_{n}": scr[n] for n in names},
        GRAD=grad, WRITE_STATES=return_states, **packing.meta(model, bs, "rollout"))
    return cost, (states if return_states else None), (g if grad else None)


@implements("rollout")
def rollout(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
            lo, hi, return_states):
    """cost [P, N] and states [P, N, T+1, D] (empty unless return_states)."""
    model = packing.pack_model(weights, biases, skip, activation)
    w, q = packing.pack_objective(step_weights, state_weights, model["DP"])
    cost, states, _ = rollout_forward(z0, goal, actions, model, w, q, action_penalty, return_states=return_states)
    return cost, states if return_states else actions.new_empty((0,))


@implements("rollout_grad")
def rollout_grad(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights,
                 action_penalty, lo, hi):
    """cost [P, N] and dC/dactions [P, N, T, A] from one fused forward and backward launch."""
    model = packing.pack_model(weights, biases, skip, activation)
    w, q = packing.pack_objective(step_weights, state_weights, model["DP"])
    cost, _, g = rollout_forward(z0, goal, actions, model, w, q, action_penalty, grad=True)
    return cost, g
