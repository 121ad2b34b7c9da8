"""What each planner hands its op: the documented defaults (docs/maths.md), every setting passed
through unchanged, the starting candidates or distribution, the info it returns, and the exact
errors for bad settings. The op is replaced by a recorder, so these tests see the call itself."""
import dataclasses
import time

import pytest
import torch

import wmkernels as wmk
from wmkernels import _random
from wmkernels.planners import base as planners_base
from helpers import random_model

D, A = 3, 2


@pytest.fixture
def model():
    return random_model(D, A, (5,), "tanh", "identity", seed=1)


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(2)
    return torch.randn(4, D, generator=gen, dtype=torch.float64), torch.randn(4, D, generator=gen, dtype=torch.float64)


class Recorder:
    """Stands in for an op: records its arguments and returns a plan of zeros."""

    def __init__(self, monkeypatch, name, iters_arg):
        self.calls = []
        self.iters_arg = iters_arg
        monkeypatch.setattr(wmk.ops, name, self)

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        z0 = args[1]
        start = args[4]
        T, A_ = start.shape[-2:]
        iters = args[self.iters_arg]
        return (torch.zeros(z0.shape[0], T, A_, dtype=z0.dtype), torch.zeros(z0.shape[0], dtype=z0.dtype),
                torch.zeros(z0.shape[0], iters, dtype=z0.dtype))


def test_gradient_planner_defaults_and_call(model, problem, monkeypatch):
    rec = Recorder(monkeypatch, "gbp_plan", 5)
    z0, goal = problem
    planner = wmk.GradientPlanner(model, backend="torch")
    before = time.perf_counter()
    res = planner.plan(z0, goal)
    wall = time.perf_counter() - before
    (m, z, g, obj, start, iters, lr, opt, b1, b2, eps, noise, seed), kwargs = rec.calls[0]
    assert m is model and z is z0 and g is goal and kwargs == {"backend": "torch"}
    assert (iters, lr, opt, b1, b2, eps, noise, seed) == (100, 0.2, "adam", 0.9, 0.999, 1e-8, 0.003, 0)
    assert start.shape == (4, 1, 5, A)                              # horizon 5, one candidate
    draws = _random.normal_block(0, _random.STREAM_INIT, 0, 4, 1, 5, A).double()
    assert torch.equal(start, draws.clamp(-1.0, 1.0))               # init_std 1, default bounds
    assert obj.step_weights.tolist() == [0, 0, 0, 0, 1]             # Objective() by default
    assert res.info["iters"] == 100 and res.info["samples"] == 1 and res.info["backend"] == "torch"
    assert 0 < res.info["time"] <= wall and res.info["history"].shape == (4, 100)


def test_gradient_planner_passes_every_setting(model, problem, monkeypatch):
    rec = Recorder(monkeypatch, "gbp_plan", 5)
    z0, goal = problem
    obj = wmk.Objective("all", base=0.5, lo=-0.3, hi=0.4)
    planner = wmk.GradientPlanner(model, horizon=3, objective=obj, iters=7, lr=0.05, samples=3, optimizer="sgd",
                                  noise=0.02, seed=11, backend="torch", init_std=2.5, betas=(0.8, 0.95), eps=1e-6)
    init = torch.full((4, 3, A), 0.25, dtype=torch.float64)
    res = planner.plan(z0, goal, init=init, seed=5)
    (_, _, _, robj, start, *settings), _ = rec.calls[0]
    assert settings == [7, 0.05, "sgd", 0.8, 0.95, 1e-6, 0.02, 5]
    assert robj.step_weights.tolist() == [1, 0.5, 0.25]
    draws = _random.normal_block(5, _random.STREAM_INIT, 0, 4, 3, 3, A).double()
    want = (2.5 * draws).clamp(-0.3, 0.4)
    want[:, 0] = init                                                # init becomes candidate 0
    assert torch.equal(start, want)
    assert res.info["iters"] == 7 and res.info["samples"] == 3
    four_d = torch.zeros(4, 3, 3, A, dtype=torch.float64)
    planner.plan(z0, goal, init=four_d)
    assert rec.calls[1][0][4] is four_d                              # [P, N, T, A] is used as given


@pytest.mark.parametrize("planner", ["cem", "mppi"])
def test_sampling_planner_defaults_and_call(planner, model, problem, monkeypatch):
    rec = Recorder(monkeypatch, f"{planner}_plan", 8 if planner == "cem" else 7)
    z0, goal = problem
    obj = wmk.Objective(lo=0.2, hi=0.9)                              # zeros clamp to 0.2
    p = (wmk.CEMPlanner if planner == "cem" else wmk.MPPIPlanner)(model, objective=obj, backend="torch")
    res = p.plan(z0, goal)
    args, kwargs = rec.calls[0]
    assert args[0] is model and args[1] is z0 and args[2] is goal and kwargs == {"backend": "torch"}
    mean, std = args[4], args[5]
    assert mean.shape == (4, 5, A) and bool((mean == 0.2).all()) and bool((std == 1.0).all())
    if planner == "cem":
        assert args[6:] == (300, 30, 30, 0.0, 0)                     # samples, elites, iters, momentum, seed
        assert res.info["elites"] == 30 and res.info["iters"] == 30
    else:
        assert args[6:] == (300, 10, 1.0, 0.0, 0)                    # samples, iters, temperature, momentum, seed
        assert res.info["temperature"] == 1.0 and res.info["iters"] == 10
    assert res.info["samples"] == 300
    assert res.info["time"] > 0                                      # timed by default


@pytest.mark.parametrize("planner", ["cem", "mppi"])
def test_sampling_planner_passes_every_setting(planner, model, problem, monkeypatch):
    rec = Recorder(monkeypatch, f"{planner}_plan", 8 if planner == "cem" else 7)
    z0, goal = problem
    common = dict(horizon=2, samples=9, iters=4, init_std=0.7, momentum=0.3, seed=8, backend="torch")
    if planner == "cem":
        p = wmk.CEMPlanner(model, elites=9, **common)                 # elites == samples is allowed
    else:
        p = wmk.MPPIPlanner(model, temperature=wmk.ops.MIN_TEMPERATURE, **common)
    init = torch.full((4, 2, A), -0.5, dtype=torch.float64)
    p.plan(z0, goal, init=init, seed=3)
    args, _ = rec.calls[0]
    assert args[4] is init and bool((args[5] == 0.7).all()) and args[5].shape == init.shape
    if planner == "cem":
        assert args[6:] == (9, 9, 4, 0.3, 3)
    else:
        assert args[6:] == (9, 4, wmk.ops.MIN_TEMPERATURE, 0.3, 3)


def test_zero_init_std_and_momentum_are_allowed(model):
    assert wmk.CEMPlanner(model, init_std=0.0, momentum=0.0).init_std == 0.0
    assert wmk.GradientPlanner(model, init_std=0.0, noise=0.0).noise == 0.0


@pytest.mark.parametrize("make,message", [
    (lambda m: wmk.CEMPlanner(m, samples=4, elites=5), r"^elites must be <= samples, got elites=5 > samples=4$"),
    (lambda m: wmk.CEMPlanner(m, momentum=1.0), r"^momentum must be in \[0, 1\), got 1.0$"),
    (lambda m: wmk.MPPIPlanner(m, momentum=-0.1), r"^momentum must be in \[0, 1\), got -0.1$"),
    (lambda m: wmk.MPPIPlanner(m, temperature=wmk.ops.MIN_TEMPERATURE / 2), "^temperature must be >= "),
    (lambda m: wmk.GradientPlanner(m, optimizer="lbfgs"), r"^optimizer must be 'adam' or 'sgd', got 'lbfgs'$"),
    (lambda m: wmk.GradientPlanner(m, action_dim=A + 1),
     rf"^action_dim={A + 1} disagrees with the model's {A}$"),
    (lambda m: wmk.GradientPlanner(torch.nn.Linear(2, 2)),
     "^action_dim is required for a world model that is not an MLPWorldModel$"),
    (lambda m: wmk.CEMPlanner(m, backend="numpy"), r"^backend must be 'auto' or one of \("),
    (lambda m: wmk.MPC(wmk.GradientPlanner(m, horizon=3), execute=4),
     r"^execute must be <= the planner's horizon \(3\), got 4$"),
])
def test_bad_settings_raise_value_errors_naming_them(make, message, model):
    with pytest.raises(ValueError, match=message):
        make(model)


@pytest.mark.parametrize("make,message", [
    (lambda m: wmk.GradientPlanner("model"), "^model must be an MLPWorldModel or a torch.nn.Module, got str$"),
    (lambda m: wmk.GradientPlanner(m, objective="last"), "^objective must be a wmkernels.Objective, got str$"),
    (lambda m: wmk.GradientPlanner(m, timed=1), "^timed must be a bool, got int$"),
    (lambda m: wmk.MPC(object()), "^planner must be a wmkernels planner, got object$"),
])
def test_wrong_types_raise_type_errors_naming_them(make, message, model):
    with pytest.raises(TypeError, match=message):
        make(model)


def test_single_problem_plans_drop_the_problem_axis_everywhere(model, problem):
    z0, goal = problem
    res = wmk.GradientPlanner(model, horizon=2, iters=3, backend="torch").plan(z0[0], goal[0])
    assert res.actions.shape == (2, A) and res.cost.shape == () and res.info["history"].shape == (3,)


def test_untimed_plans_report_no_time(model, problem):
    z0, goal = problem
    assert wmk.CEMPlanner(model, samples=4, elites=2, iters=2, timed=False).plan(z0, goal).info["time"] is None


def test_the_resolved_objective_is_kept_until_the_problem_changes(model, problem):
    z0, _ = problem
    p = wmk.GradientPlanner(model, horizon=4)
    first = p.resolved_objective(z0)
    assert p.resolved_objective(z0.clone()) is first                 # same size, dtype and device
    other = p.resolved_objective(z0.float())
    assert other is not first and other.lo.dtype == torch.float32
    assert dataclasses.is_dataclass(first) and first.step_weights.shape == (4,)


def test_mpc_seeds_count_calls_since_reset_and_warm_start_shifts(model, problem, monkeypatch):
    seen = []
    original = planners_base.Planner.plan

    def spy(self, z0, goal, init=None, seed=None):
        seen.append((seed, None if init is None else init.clone()))
        return original(self, z0, goal, init=init, seed=seed)

    monkeypatch.setattr(planners_base.Planner, "plan", spy)
    z0, goal = problem
    planner = wmk.GradientPlanner(model, horizon=3, iters=2, seed=2**32 - 1, backend="torch",
                                  objective=wmk.Objective(lo=0.1, hi=0.8))
    mpc = wmk.MPC(planner, execute=2)
    first = mpc.act(z0, goal)
    plan = mpc.last_result.actions
    mpc.act(z0, goal)
    mpc.reset()
    mpc.act(z0, goal)
    assert [s for s, _ in seen] == [2**32 - 1, 0, 2**32 - 1]          # (seed + calls) mod 2^32
    assert seen[0][1] is None and seen[2][1] is None
    assert torch.equal(seen[1][1][:, :1], plan[:, 2:])                # shifted by execute = 2
    assert bool((seen[1][1][:, 1:] == 0.1).all())                     # tail: zeros clamped into bounds
    assert first.shape == (4, 2, A)
    cold = wmk.MPC(planner, execute=1, warm_start=False)
    seen.clear()
    cold.act(z0, goal)
    cold.act(z0, goal)
    assert seen[1][1] is None
    assert cold.act(z0[0], goal[0]).shape == (1, A)


SAMPLING_PLANNERS = {"cem": lambda m, **kw: wmk.CEMPlanner(m, **kw), "mppi": lambda m, **kw: wmk.MPPIPlanner(m, **kw)}


@pytest.mark.parametrize("planner", list(SAMPLING_PLANNERS))
@pytest.mark.parametrize("setting,value,error,message", [
    ("samples", 0, ValueError, "samples must be >= 1, got 0"),
    ("iters", 0, ValueError, "iters must be >= 1, got 0"),
    ("init_std", -0.5, ValueError, "init_std must be >= 0.0, got -0.5"),
    ("momentum", float("nan"), ValueError, "momentum must be finite, got nan"),
    ("samples", 2.0, TypeError, "samples must be an int, got float"),
])
def test_each_sampling_setting_is_named_in_its_error(planner, setting, value, error, message, model):
    with pytest.raises(error, match="^" + message + "$"):
        SAMPLING_PLANNERS[planner](model, **{setting: value})


def test_cem_elites_are_named_in_their_error(model):
    with pytest.raises(ValueError, match="^elites must be >= 1, got 0$"):
        wmk.CEMPlanner(model, elites=0)


@pytest.mark.parametrize("planner", ["gbp", "cem", "mppi"])
@pytest.mark.parametrize("init,message", [
    (torch.zeros(4, 5, A, dtype=torch.float32), r"^init has dtype torch.float32, expected torch.float64 \(the model's dtype\)$"),
    (torch.zeros(4, 4, A, dtype=torch.float64), r"^init must have shape \[4, 5, 2\], got \[4, 4, 2\]$"),
])
def test_a_bad_init_is_named_in_its_error(planner, init, message, model, problem):
    z0, goal = problem
    make = {"gbp": lambda: wmk.GradientPlanner(model, iters=2),
            "cem": lambda: wmk.CEMPlanner(model, samples=4, elites=2, iters=2),
            "mppi": lambda: wmk.MPPIPlanner(model, samples=4, iters=2)}[planner]
    with pytest.raises((ValueError, TypeError), match=message):
        make().plan(z0, goal, init=init)


@pytest.mark.parametrize("setting,value,error,message", [
    ("iters", 0, ValueError, "iters must be >= 1, got 0"),
    ("lr", 0.0, ValueError, r"lr must be > 0.0, got 0.0"),
    ("samples", 0, ValueError, "samples must be >= 1, got 0"),
    ("noise", -0.1, ValueError, "noise must be >= 0.0, got -0.1"),
    ("init_std", -1.0, ValueError, "init_std must be >= 0.0, got -1.0"),
    ("iters", 1.5, TypeError, "iters must be an int, got float"),
])
def test_each_gradient_setting_is_named_in_its_error(setting, value, error, message, model):
    with pytest.raises(error, match="^" + message + "$"):
        wmk.GradientPlanner(model, **{setting: value})


def test_horizon_and_action_dim_are_named_in_their_errors(model):
    with pytest.raises(ValueError, match="^horizon must be >= 1, got 0$"):
        wmk.CEMPlanner(model, horizon=0)
    with pytest.raises(ValueError, match="^action_dim must be >= 1, got 0$"):
        wmk.GradientPlanner(torch.nn.Linear(2, 2), action_dim=0)


def test_a_plan_result_starts_with_an_empty_info():
    res = wmk.PlanResult(torch.zeros(2, 3, 1), torch.zeros(2))
    assert res.info == {} and res.info is not wmk.PlanResult(torch.zeros(1), torch.zeros(1)).info


def test_under_compile_the_objective_is_resolved_afresh(model, problem, monkeypatch):
    """While torch.compile traces, resolved_objective resolves again (nothing kept between traces)."""
    z0, _ = problem
    p = wmk.GradientPlanner(model, horizon=3, objective=wmk.Objective("all", base=0.5, lo=-0.2, hi=0.3))
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    first, second = p.resolved_objective(z0), p.resolved_objective(z0)
    assert first is not second and p._resolved == (None, None)
    assert first.step_weights.tolist() == [1, 0.5, 0.25] and first.state_weights.shape == (D,)
    assert first.lo.tolist() == [-0.2] * A and first.lo.dtype == torch.float64


def test_a_single_problem_takes_a_batched_goal_and_its_own_init(model, problem, monkeypatch):
    """z0 [D] with goal [1, D] plans one problem; init [T, A] becomes that problem's init."""
    rec = Recorder(monkeypatch, "cem_plan", 8)
    z0, goal = problem
    init = torch.full((5, A), 0.125, dtype=torch.float64)
    res = wmk.CEMPlanner(model, backend="torch").plan(z0[0], goal[:1], init=init)
    args, _ = rec.calls[0]
    assert args[1].shape == (1, D) and args[2].shape == (1, D)
    assert torch.equal(args[4], init[None])
    assert res.actions.shape == (5, A) and res.cost.shape == ()


def test_mpc_defaults_limits_and_errors(model, problem):
    """execute = 1 by default (replan after every action), execute = horizon allowed, execute named
    in its error, a goal [1, D] for a single state, the warm-start size message, and a seed per call."""
    z0, goal = problem
    planner = wmk.GradientPlanner(model, horizon=3, iters=2, seed=40, backend="torch")
    mpc = wmk.MPC(planner)
    assert mpc.execute == 1 and mpc.warm_start is True and mpc.act(z0, goal).shape == (4, 1, A)
    assert wmk.MPC(planner, execute=3).act(z0, goal).shape == (4, 3, A)
    with pytest.raises(ValueError, match="^execute must be >= 1, got 0$"):
        wmk.MPC(planner, execute=0)
    assert wmk.MPC(planner).act(z0[0], goal[:1]).shape == (1, A)
    with pytest.raises(ValueError, match=r"^z holds 2 problems but the warm start holds 4; call reset\(\) between "
                                         r"episodes$"):
        mpc.act(z0[:2], goal[:2])
    seeds = []
    spy = wmk.MPC(planner)
    original = planner.plan
    planner.plan = lambda *args, seed=None, **kwargs: seeds.append(seed) or original(*args, seed=seed, **kwargs)
    for _ in range(3):
        spy.act(z0, goal)
    assert seeds == [40, 41, 42]
