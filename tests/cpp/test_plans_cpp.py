"""Whole plans with backend="cpp" against the naive reference: same seed, same plan."""
import pytest
import torch

import wmkernels as wmk
from wmkernels import ops

from cpp_helpers import poison  # noqa: F401  (autouse fixture)
from cpp_helpers import cpp_reason
from helpers import random_model, rel_err as relative_error

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))

TOL = 1e-5


def problem(P, D, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(P, D, generator=gen, dtype=dtype), torch.randn(P, D, generator=gen, dtype=dtype)


def assert_same(got, ref, tol=TOL):
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        assert torch.isfinite(g).all()
        assert relative_error(g, r) < tol


GBP_CASES = {
    "adam-N1-noise-last": dict(N=1, optimizer="adam", noise=0.003, mode="last", activation="relu", skip="identity"),
    "adam-N5-noise-all-bounds": dict(N=5, optimizer="adam", noise=0.01, mode="all", activation="silu",
                                     skip="matrix", lo=-0.6, hi=0.8),
    "sgd-N3-nonoise-penalty": dict(N=3, optimizer="sgd", noise=0.0, mode="all", activation="tanh", skip="zero",
                                   penalty=0.1),
    "adam-N2-gelu-3layers": dict(N=2, optimizer="adam", noise=0.003, mode="last", activation="gelu",
                                 skip="identity", widths=(21, 13, 8)),
    "adam-N4-elu-4layers": dict(N=4, optimizer="adam", noise=0.003, mode="all", activation="elu",
                                skip="matrix", widths=(9, 14, 11, 6)),
}


@pytest.mark.parametrize("case", list(GBP_CASES), ids=list(GBP_CASES))
def test_gbp_plan_matches_naive(case):
    c = GBP_CASES[case]
    P, T, D, A = 3, 4, 6, 3
    model = random_model(D, A, c.get("widths", (24, 17)), c["activation"], c["skip"], seed=2)
    z0, goal = problem(P, D, seed=3)
    obj = wmk.Objective(mode=c["mode"], base=0.5, action_penalty=c.get("penalty", 0.0),
                        lo=c.get("lo", -1.0), hi=c.get("hi", 1.0))
    gen = torch.Generator().manual_seed(4)
    init = torch.randn(P, c["N"], T, A, generator=gen, dtype=torch.float64).clamp(c.get("lo", -1.0), c.get("hi", 1.0))
    kwargs = dict(optimizer=c["optimizer"], noise=c["noise"], seed=11)
    ref = ops.gbp_plan(model, z0, goal, obj, init, 25, 0.1, backend="torch", **kwargs)
    got = ops.gbp_plan(model, z0, goal, obj, init, 25, 0.1, backend="cpp", **kwargs)
    assert_same(got, ref)


@pytest.mark.parametrize("momentum", [0.0, 0.3], ids=lambda m: f"momentum{m}")
@pytest.mark.parametrize("activation,skip", [("relu", "identity"), ("silu", "matrix"), ("elu", "zero")])
def test_cem_plan_matches_naive(momentum, activation, skip):
    P, T, D, A = 3, 4, 5, 2
    model = random_model(D, A, (19, 11), activation, skip, seed=5)
    z0, goal = problem(P, D, seed=6)
    obj = wmk.Objective(mode="all", base=0.7, q=torch.rand(D), action_penalty=0.02, lo=-0.9, hi=0.7)
    mean = torch.zeros(P, T, A, dtype=torch.float64)
    std = torch.full((P, T, A), 0.8, dtype=torch.float64)
    ref = ops.cem_plan(model, z0, goal, obj, mean, std, 37, 6, 6, momentum, seed=9, backend="torch")
    got = ops.cem_plan(model, z0, goal, obj, mean, std, 37, 6, 6, momentum, seed=9, backend="cpp")
    assert_same(got, ref)


@pytest.mark.parametrize("temperature", [0.05, 1.0, 20.0])
def test_mppi_plan_matches_naive(temperature):
    P, T, D, A = 2, 3, 5, 3
    model = random_model(D, A, (16, 10), "gelu", "matrix", seed=8)
    z0, goal = problem(P, D, seed=9)
    obj = wmk.Objective(mode="last", lo=-1.0, hi=1.0)
    mean = torch.zeros(P, T, A, dtype=torch.float64)
    std = torch.ones(P, T, A, dtype=torch.float64)
    ref = ops.mppi_plan(model, z0, goal, obj, mean, std, 41, 5, temperature, 0.2, seed=3, backend="torch")
    got = ops.mppi_plan(model, z0, goal, obj, mean, std, 41, 5, temperature, 0.2, seed=3, backend="cpp")
    assert_same(got, ref)


def test_sampling_inner_parallel_path():
    """Fewer problems than threads: candidate tiles spread over the threads per iteration."""
    torch.set_num_threads(2)
    P, T, D, A = 1, 3, 4, 2
    model = random_model(D, A, (12,), "relu", "identity", seed=1)
    z0, goal = problem(P, D, seed=2)
    obj = wmk.Objective()
    mean, std = torch.zeros(P, T, A, dtype=torch.float64), torch.ones(P, T, A, dtype=torch.float64)
    ref = ops.cem_plan(model, z0, goal, obj, mean, std, 50, 5, 4, seed=1, backend="torch")
    got = ops.cem_plan(model, z0, goal, obj, mean, std, 50, 5, 4, seed=1, backend="cpp")
    assert_same(got, ref)


@pytest.mark.parametrize("planner", ["gbp", "cem", "mppi"])
def test_planners_with_cpp_backend(planner):
    P, D, A = 4, 6, 2
    model = random_model(D, A, (32, 32), "relu", "identity", seed=3)
    z0, goal = problem(P, D, seed=4)
    obj = wmk.Objective(mode="all", base=0.5)
    make = {
        "gbp": lambda b: wmk.GradientPlanner(model, horizon=4, objective=obj, iters=20, lr=0.2, samples=3,
                                             noise=0.003, seed=5, backend=b),
        "cem": lambda b: wmk.CEMPlanner(model, horizon=4, objective=obj, samples=40, elites=5, iters=4, seed=5,
                                        backend=b),
        "mppi": lambda b: wmk.MPPIPlanner(model, horizon=4, objective=obj, samples=40, iters=4, seed=5, backend=b),
    }[planner]
    ref = make("torch").plan(z0, goal)
    got = make("cpp").plan(z0, goal)
    assert got.info["backend"] == "cpp"
    assert relative_error(got.actions, ref.actions) < TOL
    assert relative_error(got.cost, ref.cost) < TOL
    assert relative_error(got.info["history"], ref.info["history"]) < TOL
    single = make("cpp").plan(z0[0], goal[0])
    assert single.actions.shape == (4, A)


def test_auto_picks_cpp_on_cpu():
    model = random_model(4, 2, (8,), "relu", "identity", dtype=torch.float32)
    z0, goal = problem(2, 4, dtype=torch.float32)
    res = wmk.GradientPlanner(model, horizon=3, iters=5, backend="auto").plan(z0, goal)
    assert res.info["backend"] == "cpp"


def test_mpc_with_cpp_backend():
    model = random_model(4, 2, (16,), "relu", "identity", dtype=torch.float32)
    z0, goal = problem(3, 4, dtype=torch.float32)
    mpc = wmk.MPC(wmk.GradientPlanner(model, horizon=3, iters=5, backend="cpp"), execute=1)
    a = mpc.act(z0, goal)
    assert a.shape == (3, 1, 2) and torch.isfinite(a).all()


def test_float32_paper_gbp_close_to_float64():
    """The float32 kernels on the paper-gbp shapes stay close to the float64 reference."""
    P, T, D, A = 4, 5, 16, 10
    model64 = random_model(D, A, (256, 256), "relu", "identity", seed=1)
    z0, goal = problem(P, D, seed=2)
    obj = wmk.Objective()
    init = torch.zeros(P, 1, T, A, dtype=torch.float64)
    ref_cost = ops.rollout(model64, z0, init, goal, obj, backend="torch")
    cost = ops.rollout(model64.to(dtype=torch.float32), z0.float(), init.float(), goal.float(), obj, backend="cpp")
    assert relative_error(cost, ref_cost) < 1e-5
