"""Env specs and planner settings (docs/training.md, "Planner settings of the evaluation").

Goal dims (``ENV_SPECS``): the state dims the env's ``is_success`` reads: PointMaze and Wall xy;
PushT agent xy, block xy and block angle; Pusher the object xy.

Planner settings (``default_settings``): CEM and MPPI run 10 iterations on Pusher (as on PointMaze
and Wall), and MPPI (not in the paper) has CEM's samples, iterations, initial std and replanning,
with temperature 0.03 (in units of the normalised cost; the best of 0.01-1 by mean planned cost on
other tasks, seed 1). ``--set planner.field=value`` overrides one (e.g. ``--set gd.lr=0.3``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import wmkernels

from ..data import make_name
from .errors import EvaluationError

PLANNERS = ("gd", "adam", "cem", "mppi")
MODES = ("open-loop", "mpc")


@dataclass(frozen=True)
class EnvSpec:
    """goal_dims: state dims with cost weight (those ``is_success`` reads); mpc_steps: the MPC
    episode length in planner steps; sampling_iters: CEM / MPPI iterations per plan; angle_dims:
    goal dims that are angles (unwrapped to within pi of the current state before each plan)."""

    goal_dims: tuple
    mpc_steps: int
    sampling_iters: int
    angle_dims: tuple = ()


ENV_SPECS = {
    "PointMaze": EnvSpec(goal_dims=(0, 1), mpc_steps=20, sampling_iters=10),
    "Wall": EnvSpec(goal_dims=(0, 1), mpc_steps=20, sampling_iters=10),
    "PushT": EnvSpec(goal_dims=(0, 1, 2, 3, 4), mpc_steps=10, sampling_iters=30, angle_dims=(4,)),
    "Pusher": EnvSpec(goal_dims=(7, 8), mpc_steps=20, sampling_iters=10),
}
"""MPC budgets: 100 env steps for PointMaze (the longest U-maze path at its top speed), Wall (a
crossing through the door at about 1 m/s) and Pusher (``Pusher-v5``'s episode length); 50 env
steps for PushT (twice the 25-step task gap)."""


@dataclass(frozen=True)
class GradientSettings:
    """Projected gradient planning (``wmkernels.GradientPlanner``); replan every ``execute`` steps."""

    optimizer: str
    lr: float
    iters: int
    noise: float = 0.003
    samples: int = 1
    init_std: float = 1.0
    horizon: int = 5
    execute: int = 1

    def build(self, model, objective, seed, backend):
        return wmkernels.GradientPlanner(model, self.horizon, objective, iters=self.iters, lr=self.lr,
                                         samples=self.samples, optimizer=self.optimizer, noise=self.noise,
                                         seed=seed, backend=backend, init_std=self.init_std)


@dataclass(frozen=True)
class CEMSettings:
    """The cross-entropy method (``wmkernels.CEMPlanner``), initial mean 0 and std ``init_std``."""

    iters: int
    samples: int = 300
    elites: int = 30
    init_std: float = 1.0
    horizon: int = 5
    execute: int = 5

    def build(self, model, objective, seed, backend):
        return wmkernels.CEMPlanner(model, self.horizon, objective, samples=self.samples, elites=self.elites,
                                    iters=self.iters, init_std=self.init_std, seed=seed, backend=backend)


@dataclass(frozen=True)
class MPPISettings:
    """MPPI (``wmkernels.MPPIPlanner``): mean moved to the softmax(-cost / temperature) average."""

    iters: int
    samples: int = 300
    temperature: float = 0.03
    init_std: float = 1.0
    horizon: int = 5
    execute: int = 5

    def build(self, model, objective, seed, backend):
        return wmkernels.MPPIPlanner(model, self.horizon, objective, samples=self.samples, iters=self.iters,
                                     temperature=self.temperature, init_std=self.init_std, seed=seed,
                                     backend=backend)


def default_settings(planner: str, mode: str, env_name: str):
    """The paper's settings (docs/training.md) for ``planner`` in ``mode`` on ``env_name``."""
    check_choice("planner", planner, PLANNERS)
    check_choice("mode", mode, MODES)
    iters = env_spec(env_name).sampling_iters
    if planner == "gd":
        return GradientSettings("sgd", lr=1.0, iters=1000)
    if planner == "adam":
        return GradientSettings("adam", lr=0.2, iters=100) if mode == "mpc" else GradientSettings("adam", 0.3, 300)
    return CEMSettings(iters) if planner == "cem" else MPPISettings(iters)


def apply_overrides(settings, planner: str, overrides: dict):
    """``settings`` with the fields of ``overrides`` ({"planner.field": value}) for ``planner`` replaced."""
    changes = {}
    for key, value in overrides.items():
        name, _, field = key.partition(".")
        check_choice("planner in --set", name, PLANNERS)
        if name != planner:
            continue
        known = {f.name for f in dataclasses.fields(settings)}
        if field not in known:
            raise EvaluationError(f"--set {key}: {planner} has no setting {field!r}; known: {sorted(known)}")
        try:
            changes[field] = type(getattr(settings, field))(value)
        except ValueError as err:
            raise EvaluationError(f"--set {key}: {value!r} is not a valid {field}") from err
    return dataclasses.replace(settings, **changes)


def parse_overrides(items) -> dict:
    """{"planner.field": "value"} from ``["planner.field=value", ...]``."""
    overrides = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise EvaluationError(f"--set takes planner.field=value (e.g. gd.lr=0.1), got {item!r}")
        overrides[key] = value
    return overrides


def check_choice(what: str, value, options) -> None:
    if value not in options:
        raise EvaluationError(f"unknown {what} {value!r}; choose from {', '.join(options)}")


def env_spec(env_name: str) -> EnvSpec:
    name = make_name(env_name)
    check_choice("env", name, tuple(ENV_SPECS))
    return ENV_SPECS[name]
