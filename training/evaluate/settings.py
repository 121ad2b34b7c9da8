"""Env specs, the objective and planner settings (docs/training.md, "Planner settings of the evaluation").

Objective (``default_objective``): GD and Adam weigh every planning step (base 0.5) but on Pusher the
final state, CEM and MPPI the env's (the final state on the built-in envs); ``--objective`` sets one
for all planners.

Goal dims (``ENV_SPECS``): the state dims the cost weighs, those the env's ``is_success`` reads
(PointMaze and Wall xy; PushT agent xy, block xy and block angle) but on Pusher the full state (its
goals are whole expert states; success reads the object xy, ``success_dims``). A ``gym:<id>`` env's
spec comes from the env (``env_spec``): its success dims, its unlimited hinges as angle dims, an MPC
budget of twice the task's goal distance.

Planner settings (``default_settings``): CEM and MPPI run 10 iterations on Pusher (as on PointMaze
and Wall), and MPPI (not in the paper) has CEM's samples, iterations, initial std and replanning,
with temperature 0.03 (in units of the normalised cost; the best of 0.01-1 by mean planned cost on
other tasks, seed 1). ``--set planner.field=value`` overrides one (e.g. ``--set gd.lr=0.3``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import wmkernels

from ..data import make_name
from ..envs import GYM_PREFIX
from ..envs.success import NoDefaultSuccess
from ..model_info import OBJECTIVE_MODES, planning_objective
from .errors import EvaluationError

PLANNERS = ("gd", "adam", "cem", "mppi")
BASELINE = "none"
"""The do-nothing baseline: the zero action (clipped to the bounds) at every step, no model."""
PLANNER_CHOICES = PLANNERS + (BASELINE,)
MODES = ("open-loop", "mpc")
GYM_SAMPLING_ITERS = 10
GYM_OBJECTIVE = dict(mode="all", base=0.5)
"""A gym env's default objective: every planning step, step t weighted 0.5^(t-1) (the paper's
alternative cost). Its goals are a few steps away; under MPC the final-state cost keeps the arrival
one horizon ahead: Adam reached 0% on Reacher-v5 and 2% on Swimmer-v5 with it, 76% and 42% with
this one (50 tasks, raw action units, README)."""


def check_choice(what: str, value, options) -> None:
    if value not in options:
        raise EvaluationError(f"unknown {what} {value!r}; choose from {', '.join(options)}")


def planner_action_bounds(env) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) [k A]: one env action's bounds tiled over the env's frameskip."""
    return np.tile(env.action_low, env.frameskip), np.tile(env.action_high, env.frameskip)


@dataclass(frozen=True)
class ObjectiveSettings:
    """How the planning steps are weighed (``wmkernels.Objective``): ``last`` (the final state only),
    ``all`` (step t weighs ``base^(t-1)``) or explicit ``weights`` [horizon]."""

    mode: str = "last"
    base: float = 1.0
    weights: tuple | None = None

    def __post_init__(self):
        check_choice("objective mode", self.mode, OBJECTIVE_MODES)
        if not self.base > 0:
            raise EvaluationError(f"objective base must be > 0, got {self.base}")
        if self.weights is not None and (not self.weights or min(self.weights) < 0):
            raise EvaluationError(f"objective weights must be non-negative numbers, got {self.weights}")

    def build(self, env, goal_dims, state_std, num_hist: int, horizon: int, scale=None) -> wmkernels.Objective:
        """The cost on ``goal_dims`` of the newest frame, q = 1 / state_std^2, the env's action bounds
        tiled over its frameskip (``training.model_info.planning_objective``), mapped to normalised
        action units by ``scale`` (an ``ActionScale``) when given."""
        if self.weights is not None and len(self.weights) != horizon:
            raise EvaluationError(f"objective weights has {len(self.weights)} entries but the planner's "
                                  f"horizon is {horizon}")
        low, high = planner_action_bounds(env)
        if scale is not None:
            low, high = scale.bounds(low, high)
        return planning_objective(state_std, num_hist, goal_dims, low, high, 1, self.mode, self.base,
                                  None if self.weights is None else list(self.weights))


GRADIENT_OBJECTIVE = ObjectiveSettings(mode="all", base=0.5)
"""The gradient planners' objective (GD, Adam): every planning step, step t weighted 0.5^(t-1), as
in the paper's released planning configs; CEM and MPPI keep the env's (the final state for the
built-in envs). Pusher's gradient planners plan on the final state too (``EnvSpec.gradient_objective``)."""


@dataclass(frozen=True)
class EnvSpec:
    """goal_dims: state dims with cost weight; mpc_steps: the MPC episode length in planner steps;
    sampling_iters: CEM / MPPI iterations per plan; angle_dims: goal dims that are angles (unwrapped
    to within pi of the current state before each plan); objective: the default weighing of the
    planning steps of CEM and MPPI, ``gradient_objective`` that of GD and Adam; success_dims: the
    dims ``is_success`` reads, when not the goal dims."""

    goal_dims: tuple
    mpc_steps: int
    sampling_iters: int
    angle_dims: tuple = ()
    objective: ObjectiveSettings = ObjectiveSettings()
    gradient_objective: ObjectiveSettings = GRADIENT_OBJECTIVE
    success_dims: tuple | None = None

    @property
    def read_dims(self) -> tuple:
        """The dims ``is_success`` reads."""
        return self.goal_dims if self.success_dims is None else self.success_dims


ENV_SPECS = {
    "PointMaze": EnvSpec(goal_dims=(0, 1), mpc_steps=20, sampling_iters=10),
    "Wall": EnvSpec(goal_dims=(0, 1), mpc_steps=20, sampling_iters=10),
    "PushT": EnvSpec(goal_dims=(0, 1, 2, 3, 4), mpc_steps=10, sampling_iters=30, angle_dims=(4,)),
    "Pusher": EnvSpec(goal_dims=tuple(range(22)), mpc_steps=20, sampling_iters=10, success_dims=(7, 8),
                      gradient_objective=ObjectiveSettings()),
}
"""MPC budgets: 100 env steps for PointMaze (5 s), Wall (several times a crossing through the door at
its data's mean step of 0.071 m) and Pusher (twice its 50-step task gap); 50 env steps for
PushT (twice the 25-step task gap). Pusher's goal lies two horizons away: weighing every step pulls
the whole arm to its goal pose at once and through the slowly pushed object (Adam + MPC 10% any-time
on 20 tasks of the offline model, 45% on the final state only; docs/training.md, "Pusher's tasks
and expert")."""


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


@dataclass(frozen=True)
class DoNothingSettings:
    """The baseline: no planner; ``horizon`` steps open-loop, the MPC length under MPC."""

    horizon: int = 5
    execute: int = 5


def default_objective(planner: str, spec: EnvSpec) -> ObjectiveSettings:
    """The objective ``planner`` plans with on an env of ``spec`` unless one is given."""
    check_choice("planner", planner, PLANNER_CHOICES)
    return spec.gradient_objective if planner in ("gd", "adam") else spec.objective


def default_settings(planner: str, mode: str, spec: EnvSpec):
    """The paper's settings (docs/training.md) for ``planner`` in ``mode`` on an env of ``spec``."""
    check_choice("planner", planner, PLANNER_CHOICES)
    check_choice("mode", mode, MODES)
    if planner == BASELINE:
        return DoNothingSettings()
    iters = spec.sampling_iters
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
        check_choice("planner in --set", name, PLANNER_CHOICES)
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


def check_env_name(env_name: str) -> str:
    """The canonical name of a built-in env or a ``gym:<id>`` name; EvaluationError otherwise."""
    name = make_name(env_name)
    if not (name in ENV_SPECS or (name.startswith(GYM_PREFIX) and len(name) > len(GYM_PREFIX))):
        raise EvaluationError(f"unknown env {env_name!r}; choose from {', '.join(ENV_SPECS)} "
                              f"or {GYM_PREFIX}<id> for a gymnasium MuJoCo env")
    return name


def env_spec(env) -> EnvSpec:
    """The spec of an env instance: ``ENV_SPECS`` for a built-in env; for a ``gym:<id>`` env its
    success dims, its unlimited hinges among them as angle dims, ``2 * goal_steps`` MPC steps and
    ``GYM_OBJECTIVE``."""
    name = check_env_name(env.name)
    if name in ENV_SPECS:
        return ENV_SPECS[name]
    try:
        success = env.success
    except NoDefaultSuccess as err:
        raise EvaluationError(f"{err} (--success-dims)") from None
    return EnvSpec(goal_dims=success.dims, mpc_steps=2 * env.goal_steps, sampling_iters=GYM_SAMPLING_ITERS,
                   angle_dims=env.unwrap_dims, objective=ObjectiveSettings(**GYM_OBJECTIVE))
