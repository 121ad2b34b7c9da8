"""Plans that are not finite, on every backend: the planners' plan() raises NonFiniteError naming
the problems whose cost or actions hold NaN or Inf (docs/maths.md, "Plans that are not finite");
with value checks off it returns the plan as it is."""
import pytest
import torch

import wmkernels as wmk

F32 = torch.float32
D, A, H = 2, 1, 4


def overflowing_model(device):
    """z' = 1e30 z + tanh(z W_1) W_o in float32: a state of 0 stays 0 (the actions' rows of W_1 are
    zero), any other state overflows to Inf within two steps."""
    gen = torch.Generator().manual_seed(3)
    w1 = torch.cat([torch.randn(D, H, generator=gen), torch.zeros(A, H)])
    wo = torch.randn(H, D, generator=gen)
    skip = 1e30 * torch.eye(D)
    move = lambda t: t.to(dtype=F32, device=device)  # noqa: E731
    return wmk.MLPWorldModel([move(w1), move(wo)], [move(torch.zeros(H)), move(torch.zeros(D))], "tanh",
                             move(skip))


PLANNERS = {
    "gbp": lambda m, b: wmk.GradientPlanner(m, horizon=3, iters=2, samples=2, seed=1, backend=b),
    "cem": lambda m, b: wmk.CEMPlanner(m, horizon=3, samples=16, elites=4, iters=2, seed=1, backend=b),
    "mppi": lambda m, b: wmk.MPPIPlanner(m, horizon=3, samples=16, iters=2, seed=1, backend=b),
}


@pytest.mark.parametrize("planner", list(PLANNERS))
def test_a_plan_whose_states_overflow_raises_naming_the_problem(planner, backend, device):
    model = overflowing_model(device)
    z0 = torch.tensor([[0.0, 0.0], [1.0, -0.5], [0.0, 0.0]], device=device)
    goal = torch.zeros(3, D, device=device)
    make = PLANNERS[planner]
    with pytest.raises(wmk.NonFiniteError, match=r"NaN or Inf for 1 of 3 problems \(1\)") as caught:
        make(model, backend).plan(z0, goal)
    assert caught.value.problems == [1]
    assert isinstance(caught.value, ValueError)
    with pytest.raises(wmk.NonFiniteError, match=r"for 1 of 1 problems \(0\)"):
        make(model, backend).plan(z0[1], goal[1])
    with wmk.value_checks(False):
        res = make(model, backend).plan(z0, goal)
    assert not bool(torch.isfinite(res.cost[1])) or not bool(torch.isfinite(res.actions[1]).all())
    for p in (0, 2):
        assert bool(torch.isfinite(res.cost[p])) and bool(torch.isfinite(res.actions[p]).all())


def test_finite_plans_pass(backend, device):
    model = overflowing_model(device)
    z0 = torch.zeros(2, D, device=device)
    res = PLANNERS["mppi"](model, backend).plan(z0, torch.zeros(2, D, device=device))
    assert bool(torch.isfinite(res.cost).all()) and bool(torch.isfinite(res.actions).all())
