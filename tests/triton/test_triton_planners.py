"""Planners and MPC with backend="triton" give the plans of backend="torch"."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model, rel_err
from triton_cases import plan_tolerance, requires_triton

pytestmark = requires_triton
D, A, T, P = 5, 2, 3, 2


def _problem(device):
    model = random_model(D, A, (16,), "tanh", "identity", dtype=torch.float64, device=device)
    gen = torch.Generator().manual_seed(3)
    z0 = torch.randn(P, D, generator=gen, dtype=torch.float64).to(device)
    goal = torch.randn(P, D, generator=gen, dtype=torch.float64).to(device)
    obj = wmk.Objective("all", base=0.5, action_penalty=0.01, lo=-1.0, hi=1.0)
    return model, z0, goal, obj


PLANNERS = {
    "gbp": lambda m, obj, b: wmk.GradientPlanner(m, horizon=T, objective=obj, iters=3, lr=0.1, samples=2,
                                                 noise=0.003, backend=b),
    "cem": lambda m, obj, b: wmk.CEMPlanner(m, horizon=T, objective=obj, samples=20, elites=4, iters=2,
                                            backend=b),
    "mppi": lambda m, obj, b: wmk.MPPIPlanner(m, horizon=T, objective=obj, samples=20, iters=2,
                                              temperature=2.0, backend=b),
}


@pytest.mark.parametrize("name", list(PLANNERS))
def test_planner_with_triton_backend(name, device):
    model, z0, goal, obj = _problem(device)
    res = PLANNERS[name](model, obj, "triton").plan(z0, goal)
    ref = PLANNERS[name](model, obj, "torch").plan(z0, goal)
    ref32 = PLANNERS[name](model.to(dtype=torch.float32), obj, "torch").plan(z0.float(), goal.float())
    assert res.info["backend"] == "triton"
    assert res.actions.shape == (P, T, A) and res.cost.shape == (P,)
    for o, r, r32 in ((res.actions, ref.actions, ref32.actions), (res.cost, ref.cost, ref32.cost),
                      (res.info["history"], ref.info["history"], ref32.info["history"])):
        assert rel_err(o, r) < plan_tolerance(rel_err(r32, r))


def test_mpc_with_triton_backend(device):
    model, z0, goal, obj = _problem(device)
    mpc = wmk.MPC(PLANNERS["gbp"](model, obj, "triton"), execute=1)
    ref = wmk.MPC(PLANNERS["gbp"](model, obj, "torch"), execute=1)
    for _ in range(2):
        a, r = mpc.act(z0, goal), ref.act(z0, goal)
        assert a.shape == (P, 1, A)
        assert rel_err(a, r) < 1e-4
        z0 = model.step(z0, r[:, 0])
