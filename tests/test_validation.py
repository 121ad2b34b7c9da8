"""Every bad input class gets a clear error naming the argument; the value checks' switch."""
import os
import subprocess
import sys

import pytest
import torch

import wmkernels as wmk
from helpers import DEVICE, random_model, random_problem
from wmkernels import _backend, _checks

D, A, T = 4, 2, 3


@pytest.fixture
def setup():
    model = random_model(D, A, (8,), dtype=torch.float32)
    z0, actions, goal = random_problem(2, 3, T, D, A, dtype=torch.float32)
    return model, z0, actions, goal, wmk.Objective()


def _nan(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


@pytest.mark.parametrize("name,mutate,match", [
    ("z0-shape", lambda z0, a, g: (z0[:, :3], a, g), r"z0 must have shape \[\*, 4\]"),
    ("z0-rank", lambda z0, a, g: (z0[0], a, g), "z0 must have 2 dimensions"),
    ("goal-shape", lambda z0, a, g: (z0, a, g[:1]), r"goal must have shape \[2, 4\]"),
    ("actions-shape", lambda z0, a, g: (z0, a[..., :1], g), r"actions must have shape \[2, \*, \*, 2\]"),
    ("actions-rank", lambda z0, a, g: (z0, a[0], g), "actions must have 4 dimensions"),
    ("horizon-0", lambda z0, a, g: (z0, a[:, :, :0], g), "horizon T >= 1"),
    ("z0-dtype", lambda z0, a, g: (z0.double(), a, g), "z0 has dtype torch.float64"),
    ("actions-int", lambda z0, a, g: (z0, a.long(), g), "actions must be a floating-point tensor"),
    ("z0-nan", lambda z0, a, g: (_nan(z0), a, g), "z0 contains NaN or Inf"),
    ("goal-inf", lambda z0, a, g: (z0, a, g / 0.0), "goal contains NaN or Inf"),
    ("actions-nan", lambda z0, a, g: (z0, _nan(a), g), "actions contains NaN or Inf"),
    ("goal-device", lambda z0, a, g: (z0, a, g.to("meta")), "goal is on meta"),
])
def test_rollout_inputs(setup, name, mutate, match):
    model, z0, actions, goal, obj = setup
    z0, actions, goal = mutate(z0, actions, goal)
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")


def test_objective_and_backend_errors(setup):
    model, z0, actions, goal, obj = setup
    with pytest.raises(TypeError, match="objective must be a wmkernels.Objective"):
        wmk.ops.rollout(model, z0, actions, goal, "last")
    with pytest.raises(ValueError, match="weights has 5 entries but the horizon is 3"):
        wmk.ops.rollout(model, z0, actions, goal, wmk.Objective(weights=[1.0] * 5))
    with pytest.raises(wmk.BackendUnavailable, match="unknown backend 'fast'"):
        wmk.ops.rollout(model, z0, actions, goal, obj, backend="fast")
    with pytest.raises(wmk.BackendUnavailable, match="backend 'cuda' is unavailable: .*cuda tensors"):
        wmk.ops.rollout(model, z0, actions, goal, obj, backend="cuda")


def test_planner_arguments(setup):
    model, z0, _, goal, obj = setup
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        wmk.GradientPlanner(model, horizon=0)
    with pytest.raises(ValueError, match="elites must be <= samples"):
        wmk.CEMPlanner(model, samples=10, elites=11)
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        wmk.GradientPlanner(model, optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr must be > 0"):
        wmk.GradientPlanner(model, lr=0.0)
    for temperature in (0.0, 2.0 ** -127):   # below the smallest normal float32, 2^-126
        with pytest.raises(ValueError, match=r"temperature must be >= 1\.17"):
            wmk.MPPIPlanner(model, temperature=temperature)
    assert wmk.MPPIPlanner(model, temperature=2.0 ** -126).temperature == 2.0 ** -126
    with pytest.raises(ValueError, match="seed must be an int"):
        wmk.CEMPlanner(model, seed=-1)
    with pytest.raises(ValueError, match="backend must be 'auto' or one of"):
        wmk.CEMPlanner(model, backend="jax")
    with pytest.raises(ValueError, match="action_dim is required"):
        wmk.GradientPlanner(model.to_module())
    with pytest.raises(ValueError, match="execute must be <= the planner's horizon"):
        wmk.MPC(wmk.GradientPlanner(model, horizon=3), execute=4)
    planner = wmk.GradientPlanner(model, horizon=T, iters=2)
    with pytest.raises(ValueError, match=r"init must have shape \[2, 3, 2\]"):
        planner.plan(z0, goal, init=torch.zeros(2, 4, A))
    with pytest.raises(ValueError, match="z0 contains NaN"):
        planner.plan(_nan(z0), goal)
    cem = wmk.CEMPlanner(model, horizon=T, samples=8, elites=2, iters=2)
    with pytest.raises(ValueError, match=r"init must have shape \[2, 3, 2\]"):
        cem.plan(z0, goal, init=torch.zeros(2, T, A + 1))


def test_op_level_plan_arguments(setup):
    model, z0, actions, goal, obj = setup
    mean = torch.zeros(2, T, A)
    with pytest.raises(ValueError, match="std must be non-negative"):
        wmk.ops.cem_plan(model, z0, goal, obj, mean, -torch.ones_like(mean), 8, 2, 1)
    with pytest.raises(ValueError, match="elites must be <= samples"):
        wmk.ops.cem_plan(model, z0, goal, obj, mean, torch.ones_like(mean), 8, 9, 1)
    with pytest.raises(ValueError, match="iters must be >= 1"):
        wmk.ops.gbp_plan(model, z0, goal, obj, actions, 0, 0.1)
    with pytest.raises(ValueError, match="momentum must be in"):
        wmk.ops.mppi_plan(model, z0, goal, obj, mean, torch.ones_like(mean), 8, 1, momentum=1.0)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    with pytest.raises(ValueError, match="lo must be <= hi"):
        wmk.ops.adam_step(actions, actions, m, v, 1, 0.1, lo=1.0, hi=0.0)
    with pytest.raises(ValueError, match=r"grad must have shape"):
        wmk.ops.adam_step(actions, actions[:1], m, v, 1, 0.1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        wmk.ops.adam_step(actions, actions, m, v, 0, 0.1)


# ---- value checks: on by default in eager use, switchable, skipped where the host must not wait ----

def _run_ops(model, z0, actions, goal, obj, backend):
    """Every public op once on good inputs."""
    P, _, T, A = actions.shape
    mean, std = actions[:, 0].clone(), torch.full((P, T, A), 0.5, device=actions.device)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend=backend)
    wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
    wmk.ops.rollout_cost(model, z0, actions, goal, obj, backend=backend)
    wmk.ops.adam_step(actions.clone(), actions, m, v, 1, 0.1, lo=-1.0, hi=torch.ones(A, device=actions.device),
                      backend=backend)
    wmk.ops.gbp_plan(model, z0, goal, obj, actions, 2, 0.1, noise=0.01, backend=backend)
    wmk.ops.cem_plan(model, z0, goal, obj, mean, std, 6, 2, 2, backend=backend)
    wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, 6, 2, backend=backend)


def _run_planners(model, z0, goal, obj, backend):
    """Each planner's plan, and two MPC steps (the second warm-started)."""
    for planner in (wmk.GradientPlanner(model, T, obj, iters=2, samples=2, backend=backend, timed=False),
                    wmk.CEMPlanner(model, T, obj, samples=6, elites=2, iters=2, backend=backend, timed=False),
                    wmk.MPPIPlanner(model, T, obj, samples=6, iters=2, backend=backend, timed=False)):
        planner.plan(z0, goal)
        mpc = wmk.MPC(planner)
        mpc.act(z0, goal)
        mpc.act(z0, goal)


@pytest.fixture
def host_reads(monkeypatch):
    """Names of the calls that read a tensor's values on the host (bool, item, float, ...)."""
    reads = []
    for name in ("__bool__", "item", "tolist", "__float__", "__int__", "__index__"):
        original = getattr(torch.Tensor, name)

        def probe(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, probe)
    return reads


def test_value_checks_are_on_by_default_and_name_the_argument(setup):
    model, z0, actions, goal, obj = setup
    assert wmk.value_checks_enabled()
    mean = torch.zeros(2, T, A)
    with pytest.raises(ValueError, match="actions contains NaN or Inf"):
        wmk.ops.rollout_cost(model, z0, _nan(actions), goal, obj, backend="torch")
    with pytest.raises(ValueError, match="mean contains NaN or Inf"):
        wmk.ops.mppi_plan(model, z0, goal, obj, _nan(mean), torch.ones_like(mean), 8, 1)
    with pytest.raises(ValueError, match="lo contains NaN"):
        wmk.ops.adam_step(actions, actions, torch.zeros_like(actions), torch.zeros_like(actions), 1, 0.1,
                          lo=torch.tensor([0.0, float("nan")]))


@pytest.mark.parametrize("backend", _backend.BACKENDS)
def test_with_value_checks_off_no_tensor_is_read_on_the_host(host_reads, backend):
    """Value checks off: the ops, plans and MPC steps read no tensor value on the host (what
    synchronises a GPU); on, the same calls do read (the probe sees the checks)."""
    if _backend.unavailable_reason(backend, DEVICE) is not None:
        pytest.skip(_backend.unavailable_reason(backend, DEVICE))
    if backend == "triton" and DEVICE == "cpu":
        pytest.skip("the Triton interpreter runs the kernels on the host")
    model = random_model(D, A, (8,), dtype=torch.float32, device=DEVICE)
    z0, actions, goal = random_problem(2, 3, T, D, A, dtype=torch.float32, device=DEVICE)
    obj = wmk.Objective("all", base=0.5, q=[1.0, 2.0, 0.5, 1.0], action_penalty=0.1, lo=[-1.0, -0.5], hi=1.0)
    _run_ops(model, z0, actions, goal, obj, backend)
    assert "__bool__" in host_reads
    host_reads.clear()
    with wmk.value_checks(False):
        _run_ops(model, z0, actions, goal, obj, backend)
        _run_planners(model, z0, goal, obj, backend)
    assert host_reads == []


def test_value_checks_off_let_bad_values_through_and_the_switch_restores(setup):
    model, z0, actions, goal, obj = setup
    mean = torch.zeros(2, T, A)
    with wmk.value_checks(False):
        assert not wmk.value_checks_enabled()
        cost = wmk.ops.rollout(model, z0, _nan(actions), goal, obj, backend="torch")
        assert torch.isnan(cost[0, 0]) and torch.isfinite(cost[1]).all()
        wmk.ops.cem_plan(model, z0, goal, obj, mean, -torch.ones_like(mean), 8, 2, 1)
    assert wmk.value_checks_enabled()
    with pytest.raises(RuntimeError, match="inside"):
        with wmk.value_checks(False):
            raise RuntimeError("inside")
    assert wmk.value_checks_enabled()
    wmk.set_value_checks(False)
    try:
        assert not wmk.value_checks_enabled()
    finally:
        wmk.set_value_checks(True)
    with pytest.raises(ValueError, match="std must be non-negative"):
        wmk.ops.cem_plan(model, z0, goal, obj, mean, -torch.ones_like(mean), 8, 2, 1)
    with pytest.raises(TypeError, match="enabled must be a bool, got int"):
        wmk.set_value_checks(0)


def test_value_checks_env_switch():
    code = "import wmkernels as wmk; print(wmk.value_checks_enabled())"
    for value, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "WMK_VALUE_CHECKS": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_value_checks_are_skipped_while_a_cuda_stream_captures(setup, monkeypatch):
    """Reading a tensor during CUDA-graph capture is an error: the checks step aside (shape
    checks stay)."""
    model, z0, actions, goal, obj = setup
    assert _checks.value_checks_active() and _checks.can_sync()
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    assert not _checks.value_checks_active() and not _checks.can_sync()
    cost = wmk.ops.rollout(model, z0, _nan(actions), goal, obj, backend="torch")
    assert torch.isnan(cost[0, 0])
    with pytest.raises(ValueError, match=r"goal must have shape \[2, 4\]"):
        wmk.ops.rollout(model, z0, actions, goal[:1], obj, backend="torch")
