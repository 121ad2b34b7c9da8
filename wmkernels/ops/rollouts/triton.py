"""Fused Triton rollout and rollout gradient of an MLPWorldModel.

One program owns a tile of BN candidates of one problem (a persistent grid loops over tiles
when the scratch would exceed _triton_lib.SCRATCH_BUDGET). The whole horizon runs inside the
program: states and pre-activations of every step go to a per-program scratch buffer (L1/L2
resident) that the backward through time reads back; nothing goes through autograd.

Also here: the op registered with torch.library (``wmkernels::triton_rollout_grad``, opaque to
torch.compile, with a fake implementation) and ``RolloutCostFunction``, a differentiable
rollout cost whose backward is the fused gradient.
"""
from typing import List, Optional

import torch
import triton
import triton.language as tl

from .. import _triton_lib as lib
from ...model import MLPWorldModel
from ...objective import ResolvedObjective


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
        cost = lib.mlp_forward(
            z0_ptr + p * D, goal_ptr + p * D, a_tile, T * A, A, n_valid,
            wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr, w_ptr, q_ptr, lam,
            zs, pre, h, states_ptr + row0 * ((T + 1) * D), (T + 1) * D, D,
            T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
            GRAD, WRITE_STATES, PREC)
        tl.store(cost_ptr + row0 + rn, cost, mask=rn < n_valid)
        if GRAD:
            lib.mlp_backward(
                goal_ptr + p * D, a_tile, T * A, A, n_valid, grad_ptr + row0 * (T * A), a_tile, a_tile,
                wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr, w_ptr, q_ptr, lam,
                zs, pre, dh, dz,
                w_ptr, w_ptr, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0, 0, 0, 0,
                T, D, A, DP, AP, HP, L, BN, BD, BA, BH, BKD, BKA, BKH, ACT, SKIP,
                0, False, PREC)
        tl.debug_barrier()


def rollout_forward(model, z0, actions, goal, obj, return_states=False, grad=False):
    """Launcher: pads the model, allocates outputs and scratch, launches _rollout_kernel.

    Returns float32 (cost [P, N], states [P, N, T+1, D] or None, grad [P, N, T, A] or None).
    """
    P, N, T, A = actions.shape
    dev = actions.device
    pk = lib.pack_model(model)
    D = pk["D"]
    bs = lib.block_sizes(pk, N)
    w, q, lam, _, _ = lib.pack_objective(obj, pk["DP"], dev)
    z0f, goalf, af = lib.as_f32(z0), lib.as_f32(goal), lib.as_f32(actions)
    cost = lib.alloc((P, N), dev)
    states = lib.alloc((P, N, T + 1, D), dev) if return_states else cost
    g = lib.alloc((P, N, T, A), dev) if grad else cost
    tiles_per_problem = triton.cdiv(N, bs["BN"])
    num_tiles = P * tiles_per_problem
    scr = lib.scratch_layout(pk, bs, T, keep_pre=grad)
    if not grad:
        scr["dh"] = scr["dz"] = 0
    names = ("zs", "pre", "h", "dh", "dz")
    G = lib.num_programs(num_tiles, 4 * sum(scr.values()), dev)
    bufs = [lib.alloc((max(G * scr[n], 1),), dev) for n in names]
    _rollout_kernel[(G,)](
        z0f, goalf, af, cost, g, states,
        *lib.model_tensors(pk), *lib.model_tensors_t(pk),
        w, q, lam, *bufs,
        N, T, D, A, num_tiles, tiles_per_problem,
        *(scr[n] for n in names),
        GRAD=grad, WRITE_STATES=return_states, **lib.meta(pk, bs, "rollout"))
    return cost, (states if return_states else None), (g if grad else None)


def rollout(model, z0, actions, goal, obj, return_states=False):
    """Cost [P, N] (and states [P, N, T+1, D]) in the model's dtype; see naive.rollout."""
    cost, states, _ = rollout_forward(model, z0, actions, goal, obj, return_states=return_states)
    cost = cost.to(actions.dtype)
    return (cost, states.to(actions.dtype)) if return_states else cost


def rollout_grad(model, z0, actions, goal, obj):
    """(cost [P, N], dC/dactions [P, N, T, A]) from one fused forward+backward launch."""
    cost, _, g = rollout_forward(model, z0, actions, goal, obj, grad=True)
    return cost.to(actions.dtype), g.to(actions.dtype)


# ------------------------------------------------------------------------------------------------
# torch.library registration and autograd
# ------------------------------------------------------------------------------------------------
_ACT_NAMES = {v: k for k, v in lib.ACT_IDS.items()}


@torch.library.custom_op("wmkernels::triton_rollout_grad", mutates_args=())
def _rollout_grad_op(z0: torch.Tensor, actions: torch.Tensor, goal: torch.Tensor,
                     weights: List[torch.Tensor], biases: List[torch.Tensor],
                     skip: Optional[torch.Tensor], activation: str,
                     step_weights: torch.Tensor, state_weights: torch.Tensor, action_penalty: float,
                     lo: torch.Tensor, hi: torch.Tensor) -> List[torch.Tensor]:
    """[cost [P, N], dC/dactions [P, N, T, A]] of the fused Triton kernel."""
    model = MLPWorldModel(list(weights), list(biases), activation, skip)
    obj = ResolvedObjective(step_weights, state_weights, action_penalty, lo, hi)
    cost, grad = rollout_grad(model, z0, actions, goal, obj)
    return [cost, grad]


@_rollout_grad_op.register_fake
def _(z0, actions, goal, weights, biases, skip, activation, step_weights, state_weights,
      action_penalty, lo, hi):
    P, N = actions.shape[:2]
    return [actions.new_empty((P, N)), torch.empty_like(actions)]


def _op_args(model, z0, actions, goal, obj):
    return (z0, actions, goal, list(model.weights), list(model.biases), model.skip, model.activation,
            obj.step_weights, obj.state_weights, float(obj.action_penalty), obj.lo, obj.hi)


class RolloutCostFunction(torch.autograd.Function):
    """cost [P, N] = rollout cost of actions; backward: grad_actions = grad_cost[..., None, None] * dC/da.

    Gradients flow to the actions only (the model, z0 and goal are treated as constants)."""

    @staticmethod
    def forward(ctx, actions, model, z0, goal, obj):
        cost, grad = torch.ops.wmkernels.triton_rollout_grad(*_op_args(model, z0, actions, goal, obj))
        ctx.save_for_backward(grad)
        return cost

    @staticmethod
    def backward(ctx, grad_cost):
        (grad,) = ctx.saved_tensors
        return grad_cost[..., None, None] * grad, None, None, None, None


def rollout_cost(model, z0, actions, goal, obj):
    """Differentiable cost [P, N] of actions [P, N, T, A] (fused forward+backward kernel)."""
    return RolloutCostFunction.apply(actions, model, z0, goal, obj)


@torch.library.custom_op("wmkernels::triton_rollout", mutates_args=())
def _rollout_op(z0: torch.Tensor, actions: torch.Tensor, goal: torch.Tensor,
                weights: List[torch.Tensor], biases: List[torch.Tensor], skip: Optional[torch.Tensor],
                activation: str, step_weights: torch.Tensor, state_weights: torch.Tensor,
                action_penalty: float, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """cost [P, N] of the fused Triton rollout kernel."""
    model, obj = lib.library_unpack(weights, biases, skip, activation, step_weights, state_weights,
                                    action_penalty, lo, hi)
    return rollout(model, z0, actions, goal, obj)


@_rollout_op.register_fake
def _(z0, actions, goal, weights, biases, skip, activation, step_weights, state_weights,
      action_penalty, lo, hi):
    return actions.new_empty(actions.shape[:2])
