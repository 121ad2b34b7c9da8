"""The evaluation grid: every model, planner and mode on one env's tasks, one result row per run."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from tqdm import tqdm

from wmkernels._info import chip_name

from ..data import make_name
from ..devices import resolve_device
from .episodes import make_envs, make_objective, make_tasks, run_episodes, score
from .errors import EvaluationError
from .models import load_model
from .settings import MODES, PLANNERS, apply_overrides, check_choice, default_settings, env_spec


def device_name(device: torch.device) -> str:
    """The torch device and the chip: e.g. ``cpu (AMD EPYC 7B13, 1 threads)``, ``cuda:0 (NVIDIA H100)``."""
    if device.type == "cuda":
        return f"{device} ({chip_name(device)})"
    return f"cpu ({chip_name(device)}, {torch.get_num_threads()} threads)"


def result_row(env_name, loaded, planner, mode, settings, steps, episodes, success, device) -> dict:
    """One results.csv row."""
    P, calls = len(success), episodes.call_seconds
    return {"env": env_name, "model": loaded.label, "model_path": str(loaded.path), "planner": planner,
            "mode": mode, "tasks": P, "successes": int(success.sum()), "success_rate": float(success.mean()),
            "steps": steps, "calls": len(calls), "call_s_median": float(np.median(calls)),
            "call_s_median_per_task": float(np.median(calls)) / P, "episode_s": float(np.sum(calls)),
            "episode_s_per_task": float(np.sum(calls)) / P, "nonfinite_tasks": episodes.nonfinite,
            "backend": episodes.backend, "device": device_name(device),
            "settings": json.dumps(dataclasses.asdict(settings))}


def evaluate(env_name: str, model_paths, planners=PLANNERS, modes=MODES, tasks: int = 50, seed: int = 0,
             backend: str = "auto", device: str = "auto", overrides: dict | None = None,
             progress: bool = True) -> list[dict]:
    """Plan every task of ``env_name`` with every model, planner and mode; one row per run."""
    spec, name = env_spec(env_name), make_name(env_name)
    for p in planners:
        check_choice("planner", p, PLANNERS)
    for m in modes:
        check_choice("mode", m, MODES)
    if tasks < 1:
        raise EvaluationError(f"tasks must be >= 1, got {tasks}")
    device = resolve_device(device, "device", EvaluationError)
    envs = make_envs(name, tasks)
    starts, goals = make_tasks(envs[0], tasks, seed)
    models = [load_model(p, envs[0], device) for p in model_paths]
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise EvaluationError(f"two models for {name} share a label: {labels}")
    runs = [(m, p, mode) for m in models for p in planners for mode in modes]
    rows = []
    for loaded, planner, mode in tqdm(runs, desc=name, disable=not progress, unit="run"):
        settings = apply_overrides(default_settings(planner, mode, name), planner, overrides or {})
        objective = make_objective(envs[0], spec.goal_dims, loaded.state_std, loaded.num_hist)
        built = settings.build(loaded.model, objective, seed, backend)
        steps, execute = (settings.horizon,) * 2 if mode == "open-loop" else (spec.mpc_steps, settings.execute)
        episodes = run_episodes(envs, built, starts, goals, steps, execute, loaded.num_hist, spec.angle_dims)
        success = score(envs[0], episodes.final_states, goals)
        rows.append(result_row(name, loaded, planner, mode, settings, steps, episodes, success, device))
    for env in envs:
        env.close()
    return rows
