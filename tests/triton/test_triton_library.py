"""The fused rollout gradient as a torch.library op: schema/fake checks, autograd, torch.compile."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model, random_problem, rel_err
from triton_cases import TOL, requires_triton

pytestmark = requires_triton


def _setup(device, dtype=torch.float32):
    D, A, T, N, P = 5, 2, 3, 2, 2
    model = random_model(D, A, (16,), "silu", "matrix", dtype=dtype, device=device)
    z0, actions, goal = random_problem(P, N, T, D, A, dtype=dtype, device=device)
    obj = wmk.Objective("all", base=0.5, action_penalty=0.1).resolve(T, D, A, dtype, device)
    return model, z0, actions, goal, obj


def test_op_is_registered_with_a_fake_impl(device):
    from wmkernels.ops.rollouts import triton as rt
    model, z0, actions, goal, obj = _setup(device)
    args = rt._op_args(model, z0, actions, goal, obj)
    torch.library.opcheck(torch.ops.wmkernels.triton_rollout_grad, args,
                          test_utils=("test_schema", "test_faketensor", "test_aot_dispatch_static"))
    cost, grad = torch.ops.wmkernels.triton_rollout_grad(*args)
    ref_cost, ref_grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")
    assert rel_err(cost, ref_cost) < TOL and rel_err(grad, ref_grad) < TOL


def _reference_grad(model, z0, actions, goal, obj, weights):
    """d sum(weights * cost) / d actions through naive autograd in float64."""
    m64 = model.to(dtype=torch.float64)
    a = actions.double().requires_grad_(True)
    obj64 = wmk.objective.ResolvedObjective(*(t.double() if isinstance(t, torch.Tensor) else t for t in
                                              (obj.step_weights, obj.state_weights, obj.action_penalty,
                                               obj.lo, obj.hi)))
    cost = wmk.ops.rollout(m64, z0.double(), a, goal.double(), obj64, backend="torch")
    (cost * weights.double()).sum().backward()
    return a.grad


def test_autograd_function_backward_is_the_fused_grad(device):
    from wmkernels.ops.rollouts import triton as rt
    model, z0, actions, goal, obj = _setup(device)
    weights = torch.rand(actions.shape[:2], device=device)
    a = actions.clone().requires_grad_(True)
    (rt.rollout_cost(model, z0, a, goal, obj) * weights).sum().backward()
    assert rel_err(a.grad, _reference_grad(model, z0, actions, goal, obj, weights)) < TOL


def test_torch_compile_treats_the_op_as_opaque(device):
    from wmkernels.ops.rollouts import triton as rt
    model, z0, actions, goal, obj = _setup(device)
    weights = torch.rand(actions.shape[:2], device=device)

    def loss(a):
        return (rt.rollout_cost(model, z0, a, goal, obj) * weights).sum()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    a = actions.clone().requires_grad_(True)
    value = compiled(a)
    value.backward()
    assert rel_err(a.grad, _reference_grad(model, z0, actions, goal, obj, weights)) < TOL
    assert abs(value.item() - loss(actions).item()) <= 1e-5 * abs(value.item())


def test_plan_ops_are_registered_and_compile(device):
    """rollout, gbp_plan, cem_plan and mppi_plan as torch.library ops: schema and fake checks,
    same results as the direct calls, and a torch.compile'd caller (fullgraph) around them."""
    from wmkernels.ops import _triton_lib as lib
    from wmkernels.ops.gbp import triton as gbp_triton
    from wmkernels.ops.sampling import triton as sampling_triton
    model, z0, actions, goal, obj = _setup(device)
    margs = lib.library_args(model, obj)
    mean = torch.zeros(z0.shape[0], actions.shape[2], actions.shape[3], device=device)
    std = torch.ones_like(mean)
    cases = [
        (torch.ops.wmkernels.triton_rollout, (z0, actions, goal, *margs)),
        (torch.ops.wmkernels.triton_gbp_plan, (z0, goal, actions, *margs, 2, 0.1, "adam", 0.9, 0.999, 1e-8, 0.01, 3)),
        (torch.ops.wmkernels.triton_cem_plan, (z0, goal, mean, std, *margs, 8, 3, 2, 0.1, 5)),
        (torch.ops.wmkernels.triton_mppi_plan, (z0, goal, mean, std, *margs, 8, 2, 1.5, 0.0, 5)),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor"))
    direct = gbp_triton.gbp_plan(model, z0, goal, obj, actions, 2, 0.1, noise=0.01, seed=3)
    via_op = gbp_triton.gbp_plan_op(model, z0, goal, obj, actions, 2, 0.1, noise=0.01, seed=3)
    for a, b in zip(direct, via_op):
        assert torch.equal(a, b)

    def plan(z0, goal):
        mean_cem, cost_cem, _ = sampling_triton.cem_plan_op(model, z0, goal, obj, mean, std, 8, 3, 2, 0.0, 5)
        return mean_cem * 2.0, cost_cem + 1.0

    compiled = torch.compile(plan, backend="aot_eager", fullgraph=True)
    out, ref = compiled(z0, goal), plan(z0, goal)
    assert all(torch.equal(a, b) for a, b in zip(out, ref))
    ref_mean, ref_cost, _ = sampling_triton.cem_plan(model, z0, goal, obj, mean, std, 8, 3, 2, 0.0, 5)
    assert torch.equal(out[0], ref_mean * 2.0)
    mppi = sampling_triton.mppi_plan_op(model, z0, goal, obj, mean, std, 8, 2, 1.5, 0.0, 5)
    assert all(torch.equal(a, b) for a, b in
               zip(mppi, sampling_triton.mppi_plan(model, z0, goal, obj, mean, std, 8, 2, 1.5, 0.0, 5)))
