"""The evaluation grid: every model, planner and mode on one env's tasks, one result row per run."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import torch

from wmkernels._info import chip_name

from ..devices import resolve_device
from ..progress import progress as progress_bar
from .episodes import make_envs, make_tasks, run_episodes, run_idle, score, score_anytime
from .errors import EvaluationError
from .models import check_model, load_model
from .report import outcome_text
from .settings import (BASELINE, MODES, PLANNER_CHOICES, PLANNERS, ObjectiveSettings, apply_overrides, check_choice,
                       check_env_name, default_objective, default_settings, env_spec, planner_action_bounds)
from .units import ACTION_UNITS


def device_name(device: torch.device) -> str:
    """The torch device and the chip: e.g. ``cpu (AMD EPYC 7B13, 1 threads)``, ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        return f"{device} ({chip_name(device)})"
    return f"cpu ({chip_name(device)}, {torch.get_num_threads()} threads)"


def success_text(env) -> str:
    """What success means on ``env``: its ``Success`` spelled out, or the env's own test."""
    success = getattr(env, "success", None)
    return success.describe(env.state_names) if success is not None else f"{env.name}.is_success"


def result_row(env_name, loaded, planner, mode, settings, steps, episodes, success, anytime, device, task) -> dict:
    """One results.csv row; success, anytime [P] bool: final-state and any-time success, counted and
    kept per task (``task_successes``, ``task_anytime_successes``: ``outcome_text``, for comparing two
    runs on the same tasks); ``task``: the env's goal dims, angle dims, MPC steps, CEM/MPPI iterations
    and success test, and the run's objective and action units, as ``evaluate`` describes them."""
    P, calls = len(success), episodes.call_seconds or [0.0]
    return {"env": env_name, "model": loaded.label, "model_path": str(loaded.path), "planner": planner,
            "mode": mode, "tasks": P, "successes": int(success.sum()), "success_rate": float(success.mean()),
            "anytime_successes": int(anytime.sum()), "anytime_success_rate": float(anytime.mean()),
            "steps": steps, "calls": len(episodes.call_seconds), "call_s_median": float(np.median(calls)),
            "call_s_median_per_task": float(np.median(calls)) / P, "episode_s": float(np.sum(calls)),
            "episode_s_per_task": float(np.sum(calls)) / P, "nonfinite_tasks": episodes.nonfinite,
            "backend": episodes.backend, "device": device_name(device),
            "settings": json.dumps(dataclasses.asdict(settings)), **task,
            "task_successes": outcome_text(success), "task_anytime_successes": outcome_text(anytime)}


def _env_kwargs(models, task_kwargs: dict) -> dict:
    """The env's arguments: the models' (they must agree) with ``task_kwargs`` over them."""
    recorded = {json.dumps(m.env_kwargs, sort_keys=True) for m in models}
    if len(recorded) > 1:
        raise EvaluationError(f"the models were trained on differently made envs: {sorted(recorded)}")
    return {**models[0].env_kwargs, **task_kwargs}


def evaluate(env_name: str, model_paths, planners=PLANNERS, modes=MODES, tasks: int = 50,
             seed: int = 0, backend: str = "auto", device: str = "auto", overrides: dict | None = None,
             progress: bool = True, task_kwargs: dict | None = None,
             objective: ObjectiveSettings | None = None, action_units: str = "normalised") -> list[dict]:
    """Plan every task of ``env_name`` with every model, planner and mode; one row per run.
    ``task_kwargs`` go to the env (for ``gym:<id>``: goal_steps, success_dims, success_tol);
    ``objective``: one for every planner (default: ``settings.default_objective``); ``action_units``:
    ``normalised`` (the planners' variable is the action in units of the training data's std,
    ``training.evaluate.units``; the model must carry those statistics) or ``raw``."""
    name = check_env_name(env_name)
    for p in planners:
        check_choice("planner", p, PLANNER_CHOICES)
    for m in modes:
        check_choice("mode", m, MODES)
    check_choice("action units", action_units, ACTION_UNITS)
    if tasks < 1:
        raise EvaluationError(f"tasks must be >= 1, got {tasks}")
    device = resolve_device(device, "device", EvaluationError)
    models = [load_model(p, device) for p in model_paths]
    try:
        envs = make_envs(name, tasks, **_env_kwargs(models, dict(task_kwargs or {})))
    except (TypeError, ValueError) as err:
        raise EvaluationError(f"cannot make {name}: {err}") from err
    spec = env_spec(envs[0])
    for m in models:
        check_model(m, envs[0])
        if action_units == "normalised" and m.action_scale is None:
            raise EvaluationError(f"model {m.path} carries no action statistics (action_mean, action_std) to "
                                  f"plan in normalised action units; pass --action-units raw")
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise EvaluationError(f"two models for {name} share a label: {labels}")
    starts, goals = make_tasks(envs[0], tasks, seed)
    task = {"goal_dims": json.dumps(list(spec.goal_dims)), "angle_dims": json.dumps(list(spec.angle_dims)),
            "mpc_steps": spec.mpc_steps, "sampling_iters": spec.sampling_iters,
            "success": success_text(envs[0])}
    runs = [(m, p, mode) for m in models for p in planners for mode in modes]
    rows = []
    for loaded, planner, mode in progress_bar(runs, name, progress, unit="run"):
        settings = apply_overrides(default_settings(planner, mode, spec), planner, overrides or {})
        steps, execute = (settings.horizon,) * 2 if mode == "open-loop" else (spec.mpc_steps, settings.execute)
        weighing = objective or default_objective(planner, spec)
        scale = loaded.action_scale if action_units == "normalised" else None
        if planner == BASELINE:
            episodes = run_idle(envs, starts, steps)
        else:
            model = loaded.model if scale is None else scale.model(loaded.model)
            cost = weighing.build(envs[0], spec.goal_dims, loaded.state_std, loaded.num_hist, settings.horizon, scale)
            low, high = planner_action_bounds(envs[0])
            to_env = None if scale is None else functools.partial(scale.to_env, low=low, high=high)
            episodes = run_episodes(envs, settings.build(model, cost, seed, backend), starts, goals, steps, execute,
                                    loaded.num_hist, spec.angle_dims, to_env)
        success = score(envs[0], episodes.final_states, goals)
        anytime = score_anytime(envs[0], episodes.boundary_states, goals)
        rows.append(result_row(name, loaded, planner, mode, settings, steps, episodes, success, anytime, device,
                               {**task, "objective": json.dumps(dataclasses.asdict(weighing)),
                                "action_units": "raw" if scale is None else "normalised"}))
    for env in envs:
        env.close()
    return rows
