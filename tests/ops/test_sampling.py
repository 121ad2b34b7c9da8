"""cem_plan, mppi_plan and the sampling planners on every backend (Triton on both of its paths):
the same seed gives the plan of the float64 reference (the torch backend on model.to_module())."""
import pytest
import torch

import wmkernels as wmk
from cases import (F32, F64, SAMPLING_CASES, assert_plan_close, plan_tolerance, reference_module,
                   reference_rollout, sampling_problem, tol)
from helpers import random_model, rel_err


def run_plan(planner, case_id):
    c = SAMPLING_CASES[case_id]

    def cem(model, z0, goal, obj, mean, std, backend):
        return wmk.ops.cem_plan(model, z0, goal, obj, mean, std, c.samples, c.elites, c.iters, c.momentum,
                                seed=11, backend=backend)

    def mppi(model, z0, goal, obj, mean, std, backend):
        return wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, c.samples, c.iters, c.temperature,
                                 c.momentum, seed=3, backend=backend)
    return {"cem": cem, "mppi": mppi}[planner]


@pytest.mark.parametrize("case", list(SAMPLING_CASES))
@pytest.mark.parametrize("planner", ["cem", "mppi"])
def test_sampling_plan(planner, case, sampling_backend, device, threads):
    c = SAMPLING_CASES[case]
    threads(c.threads)
    model, z0, goal, obj, mean, std = sampling_problem(case, device)
    out_mean, cost, history = assert_plan_close(run_plan(planner, case), sampling_backend, model,
                                                (z0, goal, obj, mean, std))
    assert out_mean.shape == mean.shape and cost.shape == (c.P,) and history.shape == (c.P, c.iters)


@pytest.mark.parametrize("planner", ["cem", "mppi"])
def test_zero_std_keeps_the_mean(planner, sampling_backend, device):
    """std 0: every sample is the mean and the costs tie; CEM's elites (ties go to the lowest index)
    and MPPI's weights both refit to the mean. The plan is the mean, its cost every iteration."""
    case = "P1-T3-D5-A2-w16x8-relu-matrix-last+q-S16-E4-temp0.05-mom0.0-iters2-threads1"
    model, z0, goal, obj, mean, _ = sampling_problem(case, device)
    out_mean, cost, history = run_plan(planner, case)(model, z0, goal, obj, mean, torch.zeros_like(mean),
                                                      backend=sampling_backend)
    ref_cost, _ = reference_rollout(model, z0, mean[:, None], goal, obj)
    limit = tol(sampling_backend, F64)
    assert rel_err(out_mean, mean) < limit
    assert rel_err(cost, ref_cost[:, 0]) < limit
    assert rel_err(history, ref_cost.expand_as(history)) < limit


def _planner_problem(device):
    P, D, A = 2, 5, 2
    model = random_model(D, A, (16,), "relu", "identity", device=device, seed=3)
    gen = torch.Generator().manual_seed(4)
    z0, goal = (torch.randn(P, D, generator=gen, dtype=F64).to(device) for _ in range(2))
    return model, z0, goal, wmk.Objective(mode="all", base=0.5, action_penalty=0.01, lo=-0.8, hi=0.9)


PLANNERS = {
    "cem": lambda m, obj, b, **kw: wmk.CEMPlanner(m, horizon=3, objective=obj, samples=20, elites=4, iters=2,
                                                  momentum=0.1, seed=5, backend=b, **kw),
    "mppi": lambda m, obj, b, **kw: wmk.MPPIPlanner(m, horizon=3, objective=obj, samples=20, iters=2,
                                                    temperature=2.0, seed=5, backend=b, **kw),
}


@pytest.mark.parametrize("planner", list(PLANNERS))
def test_sampling_planner(planner, backend, device):
    model, z0, goal, obj = _planner_problem(device)
    make = PLANNERS[planner]
    res = make(model, obj, backend).plan(z0, goal)
    ref = make(reference_module(model), obj, "torch", action_dim=model.action_dim).plan(z0, goal)
    ref32 = make(model.to(dtype=F32), obj, "torch").plan(z0.float(), goal.float())
    assert res.info["backend"] == backend
    for name in ("actions", "cost", "history"):
        got, want, want32 = (r.info["history"] if name == "history" else getattr(r, name) for r in (res, ref, ref32))
        assert got.shape == want.shape and got.dtype == F64, name
        assert rel_err(got, want) < plan_tolerance(backend, F64, rel_err(want32, want)), name
    single = make(model, obj, backend).plan(z0[1], goal[1])
    assert single.actions.shape == (3, model.action_dim) and single.cost.shape == ()


@pytest.mark.parametrize("planner", ["cem", "mppi"])
@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_the_mean_stays_within_the_bounds(planner, momentum, sampling_backend, device):
    """A mean started 4 widths of the box outside it, a std that clips most samples to a bound,
    with and without momentum: the returned mean lies in [lo, hi] exactly and equals the
    reference's (every update of the mean is clamped into the bounds)."""
    case = "P2-T2-D5-A2-w19x11-elu-zero-all+q+penalty+bounds-S21-E6-temp1.0-mom0.3-iters2-threads1"
    c = SAMPLING_CASES[case]
    model, z0, goal, obj, mean, _ = sampling_problem(case, device)
    lo, hi = (b.to(device) for b in (obj.resolve(c.T, c.D, c.A, F64).lo, obj.resolve(c.T, c.D, c.A, F64).hi))
    outside = torch.where(mean > (lo + hi) / 2, hi + 4 * (hi - lo), lo - 4 * (hi - lo))

    def run(model, z0, goal, obj, mean, std, backend):
        if planner == "cem":
            return wmk.ops.cem_plan(model, z0, goal, obj, mean, std, c.samples, c.elites, 3, momentum, seed=4,
                                    backend=backend)
        return wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, c.samples, 3, 0.5, momentum, seed=4,
                                 backend=backend)
    out_mean, _, _ = assert_plan_close(run, sampling_backend, model, (z0, goal, obj, outside,
                                                                      torch.full_like(mean, 5.0)))
    assert bool(((out_mean >= lo) & (out_mean <= hi)).all())


def test_the_smallest_temperature_weighs_only_the_lowest_cost(sampling_backend, device):
    """MPPI at MIN_TEMPERATURE (2^-126) gives the lowest-cost sample all the weight: one iteration
    moves the mean to the sample that CEM with one elite picks, and both histories are its cost.
    Below MIN_TEMPERATURE the op refuses, naming the argument."""
    case = "P2-T3-D7-A3-w19-silu-identity-all+penalty+bounds-S37-E5-temp2.0-mom0.1-iters2-threads1"
    c = SAMPLING_CASES[case]
    model, z0, goal, obj, mean, std = sampling_problem(case, device)
    mppi = wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, c.samples, 1, wmk.ops.MIN_TEMPERATURE, 0.0,
                             seed=9, backend=sampling_backend)
    cem = wmk.ops.cem_plan(model, z0, goal, obj, mean, std, c.samples, 1, 1, 0.0, seed=9, backend=sampling_backend)
    for got, want in zip(mppi, cem):
        assert bool(torch.isfinite(got).all())
        assert rel_err(got, want) < tol(sampling_backend, F64)
    with pytest.raises(ValueError, match="temperature must be >= 1.17"):
        wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, c.samples, 1, 1e-39, backend=sampling_backend)
