"""rollout (with and without return_states) and rollout_grad on every backend against the float64
reference: the torch backend on model.to_module(), gradients by autograd and, where the backend
computes in float64, finite differences (torch.autograd.gradcheck)."""
import os
import subprocess
import sys

import pytest
import torch

import wmkernels as wmk
from wmkernels._backend import BACKENDS
from wmkernels.objective import ResolvedObjective
from cases import (BF16, F16, F32, F64, FLOAT32_CASES, OBJECTIVE_CASE, OBJECTIVES, ROLLOUT_CASES, SMALL_CASE,
                   exact_float64, reference_rollout, reference_rollout_grad, require, rollout_problem, tol)
from helpers import random_problem, rel_err


class _BackendCost(torch.autograd.Function):
    """cost(actions) whose backward is the backend's rollout_grad, for gradcheck."""

    @staticmethod
    def forward(ctx, actions, model, z0, goal, obj, backend):
        cost, grad = wmk.ops.rollout_grad(model, z0, actions.detach(), goal, obj, backend=backend)
        ctx.save_for_backward(grad)
        return cost

    @staticmethod
    def backward(ctx, grad_cost):
        (grad,) = ctx.saved_tensors
        return grad_cost[..., None, None] * grad, None, None, None, None, None


def check_rollout(model, z0, actions, goal, obj, backend, limit):
    """rollout with and without states against the reference; returns the backend's states."""
    ref_cost, ref_states = reference_rollout(model, z0, actions, goal, obj)
    cost, states = wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend=backend)
    cost_only = wmk.ops.rollout(model, z0, actions, goal, obj, backend=backend)
    P, N, T, _ = actions.shape
    assert cost.shape == cost_only.shape == (P, N) and states.shape == (P, N, T + 1, z0.shape[1])
    assert cost.dtype == cost_only.dtype == states.dtype == actions.dtype
    for name, out, ref in (("cost", cost, ref_cost), ("states", states, ref_states),
                           ("cost only", cost_only, ref_cost)):
        assert rel_err(out, ref) < limit, (name, rel_err(out, ref), limit)
    return states


def check_rollout_grad(model, z0, actions, goal, obj, backend, limit):
    """rollout_grad against autograd through the reference, and gradcheck in float64."""
    ref_cost, ref_grad = reference_rollout_grad(model, z0, actions, goal, obj)
    cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
    assert cost.shape == actions.shape[:2] and grad.shape == actions.shape
    assert cost.dtype == grad.dtype == actions.dtype
    assert rel_err(cost, ref_cost) < limit, ("cost", rel_err(cost, ref_cost), limit)
    assert rel_err(grad, ref_grad) < limit, ("grad", rel_err(grad, ref_grad), limit)
    if actions.dtype == F64 and exact_float64(backend):
        probe = actions.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a: _BackendCost.apply(a, model, z0, goal, obj, backend), (probe,),
                                        fast_mode=True)


@pytest.mark.parametrize("case", list(ROLLOUT_CASES))
def test_rollout(case, backend, device):
    model, z0, actions, goal, obj = rollout_problem(case, F64, device)
    check_rollout(model, z0, actions, goal, obj, backend, tol(backend, F64))


@pytest.mark.parametrize("case", list(ROLLOUT_CASES))
def test_rollout_grad(case, backend, device):
    model, z0, actions, goal, obj = rollout_problem(case, F64, device)
    check_rollout_grad(model, z0, actions, goal, obj, backend, tol(backend, F64))


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_objectives(kind, backend, device):
    model, z0, actions, goal, obj = rollout_problem(OBJECTIVE_CASE, F64, device, objective_kind=kind)
    check_rollout(model, z0, actions, goal, obj, backend, tol(backend, F64))
    check_rollout_grad(model, z0, actions, goal, obj, backend, tol(backend, F64))


@pytest.mark.parametrize("case", FLOAT32_CASES)
def test_float32_model(case, backend, device):
    """A float32 model and inputs, against the same (float32) weights in float64."""
    model, z0, actions, goal, obj = rollout_problem(case, F32, device)
    check_rollout_grad(model, z0, actions, goal, obj, backend, tol(backend, F32))


@pytest.mark.parametrize("case", FLOAT32_CASES)
@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
def test_float32_every_cpu_instruction_set(isa, case, monkeypatch):
    """The cpp backend's AVX-512, AVX2 and baseline float32 code (WMK_CPU_ISA lowers the choice)."""
    require("cpp")
    monkeypatch.setenv("WMK_CPU_ISA", isa)
    model, z0, actions, goal, obj = rollout_problem(case, F32, "cpu")
    check_rollout(model, z0, actions, goal, obj, "cpp", tol("cpp", F32))
    check_rollout_grad(model, z0, actions, goal, obj, "cpp", tol("cpp", F32))


@pytest.mark.parametrize("dtype", [BF16, F16], ids=["bf16", "f16"])
def test_half_precision_is_computed_in_float32(dtype, backend, device):
    """The fused backends compute bfloat16 and float16 inputs in float32: the cost is, bit for bit,
    the backend's float32 cost of the rounded inputs (the objective resolved in the input dtype
    included), rounded to the input dtype; that float32 cost is within the float32 tolerance of the
    float64 reference of the same rounded inputs. The torch backend computes in the dtype as given
    (docs/backends.md): within that dtype's tolerance of the reference."""
    model, z0, actions, goal, obj = rollout_problem(SMALL_CASE, F32, device)
    model, z0, actions, goal = model.to(dtype=dtype), z0.to(dtype), actions.to(dtype), goal.to(dtype)
    P, N, T, A = actions.shape
    rounded = obj.resolve(T, z0.shape[1], A, dtype, device)
    assert len(set(rounded.step_weights.tolist())) == T       # the weights are not all 1
    cost = wmk.ops.rollout(model, z0, actions, goal, rounded, backend=backend)
    assert cost.dtype == dtype and cost.shape == (P, N)
    as32 = lambda t: t.to(F32)
    rounded32 = ResolvedObjective(as32(rounded.step_weights), as32(rounded.state_weights), rounded.action_penalty,
                                  as32(rounded.lo), as32(rounded.hi))
    ref_cost, _ = reference_rollout(model, z0, actions, goal, rounded32)
    assert rel_err(cost, ref_cost) < tol(backend, dtype)
    if backend != "torch":
        cost32 = wmk.ops.rollout(model.to(dtype=F32), *map(as32, (z0, actions, goal)), rounded32, backend=backend)
        assert torch.equal(cost, cost32.to(dtype))
        assert rel_err(cost32, ref_cost) < tol(backend, F32)


def test_states_follow_the_model_step(backend, device):
    """states[t+1] = model.step(states[t], actions[t]) from states[0] = z0, and the cost is the
    objective's closed form on those states."""
    model, z0, actions, goal, obj = rollout_problem(OBJECTIVE_CASE, F64, device, objective_kind="all+q+penalty")
    cost, states = wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend=backend)
    limit = tol(backend, F64)
    P, N, T, A = actions.shape
    assert rel_err(states[:, :, 0], z0[:, None].expand(P, N, -1)) < limit
    for t in range(T):
        assert rel_err(states[:, :, t + 1], model.step(states[:, :, t], actions[:, :, t])) < limit, t
    r = obj.resolve(T, z0.shape[1], A, F64, device)
    goal_term = ((states[:, :, 1:] - goal[:, None, None]) ** 2 * r.state_weights).sum(-1)
    expected = (goal_term * r.step_weights).sum(-1) + r.action_penalty * (actions ** 2).sum((-1, -2))
    assert r.action_penalty > 0 and len(set(r.step_weights.tolist())) == T and len(set(r.state_weights.tolist())) > 1
    assert rel_err(cost, expected) < limit


def test_noncontiguous_actions(backend, device):
    model, z0, actions, goal, obj = rollout_problem(SMALL_CASE, F64, device)
    strided = actions.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous() and torch.equal(strided, actions)
    check_rollout(model, z0, strided, goal, obj, backend, tol(backend, F64))
    check_rollout_grad(model, z0, strided, goal, obj, backend, tol(backend, F64))


def test_generic_module(backend, device):
    """A torch.nn.Module world model goes through the torch backend's autograd; the same network as
    an MLPWorldModel gives the same costs and gradients on every backend; the fused backends refuse
    the module."""
    gen = torch.Generator().manual_seed(11)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=F64) * 0.5)
    net = net.to(device)

    class Model(torch.nn.Module):
        def forward(self, z, a):
            return z + net(torch.cat([z, a], -1))

    z0, actions, goal = random_problem(2, 3, 4, 3, 2, device=device, seed=12)
    obj = wmk.Objective("all", base=0.9, action_penalty=0.1)
    ref_cost, ref_grad = wmk.ops.rollout_grad(Model(), z0, actions, goal, obj, backend="torch")
    leaf = actions.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(wmk.ops.rollout(Model(), z0, leaf, goal, obj, backend="torch").sum(), leaf)
    assert rel_err(ref_grad, autograd) < 1e-12
    cost, grad = wmk.ops.rollout_grad(wmk.MLPWorldModel.from_module(net), z0, actions, goal, obj, backend=backend)
    assert rel_err(cost, ref_cost) < tol(backend, F64) and rel_err(grad, ref_grad) < tol(backend, F64)
    if backend != "torch":
        with pytest.raises(wmk.BackendUnavailable, match="MLPWorldModel"):
            wmk.ops.rollout_grad(Model(), z0, actions, goal, obj, backend=backend)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "torch"])
def test_fused_op_is_one_node_under_torch_compile(backend, device):
    """torch.compile puts a fused backend's rollout_grad (a torch.library op with a fake
    implementation) into the graph as one opaque node, and gives the eager results."""
    require(backend)
    model, z0, actions, goal, obj = rollout_problem(OBJECTIVE_CASE, F32, device)
    graphs = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    def f(a):
        cost, grad = wmk.ops.rollout_grad(model, z0, a, goal, obj, backend=backend)
        return cost.sum() + grad * 2.0

    torch._dynamo.reset()
    out = torch.compile(f, backend=record)(actions)
    assert rel_err(out, f(actions)) < 1e-6
    ops = [str(n.target) for g in graphs for n in g.graph.nodes
           if n.op == "call_function" and str(n.target).startswith("wmkernels.")]
    assert len(ops) == 1 and "rollout_grad" in ops[0], ops


def test_triton_persistent_grid_loops_over_tiles():
    """With a one-byte scratch budget (WMK_TRITON_SCRATCH_BYTES, read at import: a fresh
    interpreter) one program runs every tile in turn."""
    require("triton")
    code = ("import torch, wmkernels as wmk\n"
            "from cases import SMALL_CASE, rollout_problem, reference_rollout_grad\n"
            "from helpers import DEVICE, rel_err\n"
            
            "model, z0, actions, goal, obj = rollout_problem(SMALL_CASE, torch.float64, DEVICE)\n"
            "cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend='triton')\n"
            "ref_cost, ref_grad = reference_rollout_grad(model, z0, actions, goal, obj)\n"
            "print(rel_err(cost, ref_cost), rel_err(grad, ref_grad))\n")
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([here, os.path.dirname(here), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, WMK_TRITON_SCRATCH_BYTES="1", WMK_POISON="1", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = [float(x) for x in proc.stdout.split()]
    assert len(errors) == 2 and max(errors) < tol("triton", F64), errors
