"""What a trained model says about itself, and the planning objective built from it.

A model file (``model.wmk``) maps a raw state and a raw planner action to the raw next state
(the normalisation is folded into its weights). A training run writes into its header the
metadata that says how it maps onto its environment (``model_metadata``; ``model.metadata`` of
the loaded ``wmkernels.MLPWorldModel``):

    schema         "wmkernels.training/1"
    env            the ``training.envs.make`` name, e.g. "gym:Reacher-v5"; env_kwargs: its arguments
    method         offline | online | adversarial
    state          {"names": [S], "num_hist": H}: one frame is the env's state, for MuJoCo envs
                   (qpos, qvel) named "qpos:<joint>" / "qvel:<joint>" (not the gymnasium
                   observation); the model's state is the last H frames stacked, oldest first [H S]
    frameskip      k: one planner action is k env actions stacked in time order [k A]
    action         {"low": [A], "high": [A]}: the bounds of one env action
    normalization  statistics of the training episodes: state_mean, state_std [S] (frames),
                   action_mean, action_std [k A] (planner actions), delta_mean, delta_std [S] (the
                   frame change over k env steps)
    success        {"dims", "tol", "angle_dims"} (``training.envs.success.Success``) or null
    unwrap_dims    goal dims a planner may move by a multiple of 2 pi to within pi of the current
                   state (hinges without limits: the short way round)
    train_config   the run's ``TrainConfig``, frameskip resolved

``ModelInfo.of(model)`` reads it back; ``ModelInfo.objective`` builds the cost a
planner needs to work in normalised units: ``q_d = 1 / state_std_d^2`` on goal dims of the newest
frame (a squared error in units of the data's spread, so one learning rate or CEM/MPPI temperature
suits every env) and the env's action bounds tiled over the frameskip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import wmkernels

from .envs.success import Success, wrap_angle

SCHEMA = "wmkernels.training/1"
OBJECTIVE_MODES = ("last", "all")


def model_metadata(env, env_kwargs: dict, config: dict, normalizer, frameskip: int) -> dict:
    """The metadata of a model trained on ``env`` (a ``training.envs.Env`` made with ``env_kwargs``)
    with ``config`` (the ``TrainConfig`` as a dict) and ``normalizer`` (``training.models.Normalizer``)."""
    try:
        success = env.success
        success = {"dims": list(success.dims), "tol": success.tol, "angle_dims": list(success.angle_dims)}
    except (AttributeError, ValueError):    # an env without a success spec, or without a default one
        success = None
    stats = {name: getattr(normalizer, name).double().cpu().tolist()
             for name in ("state_mean", "state_std", "action_mean", "action_std", "delta_mean", "delta_std")}
    return {"schema": SCHEMA, "env": env.name, "env_kwargs": dict(env_kwargs),
            "method": config["method"], "state": {"names": list(env.state_names), "num_hist": int(config["num_hist"])},
            "frameskip": int(frameskip),
            "action": {"low": env.action_low.tolist(), "high": env.action_high.tolist()},
            "normalization": stats, "success": success, "unwrap_dims": list(getattr(env, "unwrap_dims", ())),
            "train_config": {**config, "frameskip": int(frameskip)}}


def planning_objective(state_std, num_hist: int, dims, low, high, frameskip: int, mode: str = "last",
                       base: float = 1.0, weights=None) -> wmkernels.Objective:
    """The objective on the stacked state [H S]: ``q_d = 1 / state_std_d^2`` on ``dims`` of the newest
    frame, 0 elsewhere; bounds: one env action's ``low``/``high`` [A] tiled over ``frameskip``.
    ``mode``, ``base`` and ``weights`` weigh the planning steps (``wmkernels.Objective``)."""
    state_std = np.asarray(state_std, dtype=np.float64)
    S = state_std.shape[0]
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < S for d in dims):
        raise ValueError(f"dims must be state indices in [0, {S}), got {dims}")
    if mode not in OBJECTIVE_MODES:
        raise ValueError(f"mode must be one of {OBJECTIVE_MODES}, got {mode!r}")
    q = np.zeros(num_hist * S)
    q[(num_hist - 1) * S + np.asarray(dims)] = 1.0 / state_std[dims] ** 2
    return wmkernels.Objective(mode=mode, base=base, weights=weights, q=q, lo=np.tile(low, frameskip),
                               hi=np.tile(high, frameskip))


def _vector(meta: dict, path: str, length: int | None = None) -> np.ndarray:
    value = meta
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"model metadata lacks {path!r}")
        value = value[key]
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1 or (length is not None and array.shape[0] != length) or not np.isfinite(array).all():
        raise ValueError(f"model metadata {path!r} must be a finite vector"
                         + (f" of length {length}" if length is not None else "") + f", got {value!r}")
    return array


@dataclass(frozen=True)
class ModelInfo:
    """The metadata of a model, checked (see the module docstring for the fields)."""

    env: str
    env_kwargs: dict
    method: str
    state_names: tuple
    num_hist: int
    frameskip: int
    action_low: np.ndarray      # [A], one env action
    action_high: np.ndarray
    normalization: dict         # name -> np.ndarray
    success: Success | None
    unwrap_dims: tuple
    train_config: dict

    @classmethod
    def from_metadata(cls, meta: dict) -> ModelInfo:
        """Check ``meta`` (written by ``model_metadata``); raises ValueError naming the bad field."""
        if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
            found = meta.get("schema") if isinstance(meta, dict) else type(meta).__name__
            raise ValueError(f"model metadata schema must be {SCHEMA!r}, got {found!r}")
        names = meta.get("state", {}).get("names")
        if not isinstance(names, list) or not names:
            raise ValueError("model metadata 'state.names' must be a non-empty list")
        S = len(names)
        low = _vector(meta, "action.low")
        high = _vector(meta, "action.high", len(low))
        k, H = meta.get("frameskip"), meta.get("state", {}).get("num_hist")
        for name, value in (("frameskip", k), ("state.num_hist", H)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model metadata {name!r} must be an int >= 1, got {value!r}")
        norm = {name: _vector(meta, f"normalization.{name}", S) for name in
                ("state_mean", "state_std", "delta_mean", "delta_std")}
        norm.update({name: _vector(meta, f"normalization.{name}", k * len(low)) for name in
                     ("action_mean", "action_std")})
        if not (norm["state_std"] > 0).all():
            raise ValueError("model metadata 'normalization.state_std' must be positive")
        success = meta.get("success")
        try:
            success = None if success is None else Success(tuple(success["dims"]), float(success["tol"]),
                                                           tuple(success["angle_dims"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"model metadata 'success' must hold dims, tol and angle_dims: {err}") from None
        unwrap = tuple(int(d) for d in meta.get("unwrap_dims", ()))
        if not all(0 <= d < S for d in unwrap):
            raise ValueError(f"model metadata 'unwrap_dims' must be state indices in [0, {S}), got {list(unwrap)}")
        return cls(meta["env"], dict(meta.get("env_kwargs") or {}), meta.get("method", ""), tuple(names), H, k,
                   low, high, norm, success, unwrap, dict(meta.get("train_config") or {}))

    @classmethod
    def of(cls, model: wmkernels.MLPWorldModel) -> ModelInfo:
        """The checked metadata of a loaded model; ValueError if it carries none of this schema."""
        if not model.metadata:
            raise ValueError("the model carries no metadata: it was not written by training.train, or "
                             "before models carried it (its .json sidecar holds env, frameskip and state_std)")
        return cls.from_metadata(model.metadata)

    @property
    def state_dim(self) -> int:
        """S, one frame; the model's state is [num_hist * S]."""
        return len(self.state_names)

    @property
    def planner_action_dim(self) -> int:
        """k A: ``frameskip`` env actions stacked."""
        return self.frameskip * len(self.action_low)

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of one planner action [k A]."""
        return np.tile(self.action_low, self.frameskip), np.tile(self.action_high, self.frameskip)

    def goal_dims(self) -> list[int]:
        """The success dims (the whole frame if the env has no success spec)."""
        return list(self.success.dims) if self.success else list(range(self.state_dim))

    def planner_goal(self, goal, state) -> np.ndarray:
        """The goal [H S] for a planner from a goal frame [S] and the current frame [S]: the goal last
        (older frames weigh 0), each of ``unwrap_dims`` moved by a multiple of 2 pi to within pi of
        ``state``."""
        goal = np.array(goal, dtype=np.float64)
        dims = list(self.unwrap_dims)
        goal[dims] = np.asarray(state, dtype=np.float64)[dims] + wrap_angle(goal[dims] - np.asarray(state)[dims])
        return np.concatenate([np.zeros((self.num_hist - 1) * self.state_dim), goal])

    def objective(self, dims=None, mode: str = "last", base: float = 1.0, weights=None) -> wmkernels.Objective:
        """``planning_objective`` on ``dims`` (default: ``goal_dims()``) with this model's statistics and
        bounds: the squared goal error in normalised units, on the newest frame."""
        return planning_objective(self.normalization["state_std"], self.num_hist,
                                  self.goal_dims() if dims is None else dims, self.action_low, self.action_high,
                                  self.frameskip, mode, base, weights)
