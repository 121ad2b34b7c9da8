"""Tasks, the blind episode loop and scoring.

Tasks (``make_tasks``): ``tasks`` (start, goal) pairs per env from
``env.sample_task(np.random.default_rng(seed))``, the same list for every model, planner and mode.
A ``gym:<id>`` env's tasks are two states ``goal_steps`` planner steps apart on fresh random-action
trajectories (``training.envs.mujoco_env.GymMujocoEnv``).

Objective (``settings.ObjectiveSettings``): by default the final-state cost on the newest frame,

    C = sum_d q_d (z_{T,d} - g_d)^2,   q_d = 1 / state_std_d^2 on the goal dims, 0 elsewhere.

Before each plan an angle goal is moved by a multiple of 2 pi to within pi of the current angle, so
the cost measures the short way round (PushT holds its angle in [0, 2 pi); a free hinge of a MuJoCo
body winds up without bound).

Episodes (``run_episodes``): all tasks of an env run in lockstep and are planned in one batch. A
planner step is one planner action (``frameskip`` env actions). Open-loop: one plan of ``horizon``
actions, all executed. MPC (``wmkernels.MPC``, warm start): plan, execute the first ``execute``
actions, replan, for ``ENV_SPECS[env].mpc_steps`` planner steps; there is no early stop. The loop
never reads the env's success signal; it records the state at every replanning boundary (after each
executed chunk of actions, the last one being the final state). Afterwards ``score`` applies
``is_success`` to the final states, and ``score_anytime`` to every boundary state: a task counts as
solved any-time if it was solved at some boundary (the first time the goal is reached, latched, as
the paper's released evaluation counts it; the step budget is the same ``mpc_steps``). Timing: the
wall time of every planner call (CUDA synchronised), batched over all tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

import wmkernels


def make_envs(env_name: str, count: int, **env_kwargs) -> list:
    """``count`` independent instances of the env (one per task, stepped in lockstep)."""
    from ..envs import make

    return [make(env_name, **env_kwargs) for _ in range(count)]


def make_tasks(env, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """starts, goals [count, S] from ``env.sample_task`` with ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    pairs = [env.sample_task(rng) for _ in range(count)]
    return np.stack([s for s, _ in pairs]), np.stack([g for _, g in pairs])


@dataclass
class Episodes:
    """final_states [P, S], actions [P, steps, kA] executed, call_seconds [calls] (batched over P),
    backend used, nonfinite: tasks that got a non-finite planned action (executed as 0),
    boundary_states [P, chunks, S]: the state after each executed chunk (the last is final_states)."""

    final_states: np.ndarray
    actions: np.ndarray
    call_seconds: list
    backend: str
    nonfinite: int
    boundary_states: np.ndarray


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _as_model_input(history: np.ndarray, model) -> torch.Tensor:
    """history [P, H, S] -> z [P, H S] in the model's dtype and device."""
    P = history.shape[0]
    return torch.as_tensor(history.reshape(P, -1), dtype=model.dtype, device=model.device)


def unwrap_goals(goals, states, angle_dims) -> np.ndarray:
    """goals [P, S] with each of ``angle_dims`` moved by a multiple of 2 pi to within pi of states'."""
    goals = np.array(goals, dtype=np.float64)
    d = list(angle_dims)
    goals[:, d] = states[:, d] + (goals[:, d] - states[:, d] + np.pi) % (2 * np.pi) - np.pi
    return goals


def _goal_input(goals, states, angle_dims, num_hist, model) -> torch.Tensor:
    """The planner's goal [P, H S]: the (unwrapped) goal frame last, zeros (weight 0) before it."""
    P, S = goals.shape
    stacked = np.zeros((P, num_hist, S))
    stacked[:, -1] = unwrap_goals(goals, states, angle_dims)
    return _as_model_input(stacked, model)


def run_episodes(envs, planner, starts, goals, steps: int, execute: int, num_hist: int = 1,
                 angle_dims=(), to_env=None) -> Episodes:
    """Run the P tasks (envs[p] from starts[p] toward goals[p], [P, S]) in lockstep for ``steps``
    planner steps, planning for all of them in one batched call every ``execute`` steps
    (``wmkernels.MPC`` with warm start; open-loop is steps = execute = horizon). The model's state
    is the last ``num_hist`` frames, the start repeated at first. ``to_env`` maps the planner's
    actions [P, T, kA] to the env's (default: the same; ``ActionScale.to_env`` for normalised
    units); ``Episodes.actions`` holds the env's. One untimed call first loads and compiles the
    backend. Never reads ``is_success``."""
    P, S = starts.shape
    model, device = planner.model, planner.model.device
    mpc = wmkernels.MPC(planner, execute=execute)
    for env, start in zip(envs, starts):
        env.set_state(start)
    history = np.repeat(starts[:, None], num_hist, axis=1)
    planner.plan(_as_model_input(history, model), _goal_input(goals, starts, angle_dims, num_hist, model))
    executed, seconds, nonfinite, boundaries = [], [], np.zeros(P, dtype=bool), []
    while len(executed) < steps:
        z = _as_model_input(history, model)
        goal = _goal_input(goals, history[:, -1], angle_dims, num_hist, model)
        _sync(device)
        started = time.perf_counter()
        planned = mpc.act(z, goal)
        _sync(device)
        seconds.append(time.perf_counter() - started)
        planned = planned.detach().cpu().double().numpy()
        bad = ~np.isfinite(planned)
        nonfinite |= bad.any(axis=(1, 2))
        planned[bad] = 0.0
        if to_env is not None:
            planned = to_env(planned)
        for action in planned.transpose(1, 0, 2)[: steps - len(executed)]:
            frames = np.stack([env.step(a) for env, a in zip(envs, action)])
            history = np.concatenate([history[:, 1:], frames[:, None]], axis=1)
            executed.append(action)
        boundaries.append(history[:, -1].copy())
    return Episodes(history[:, -1].copy(), np.stack(executed, axis=1), seconds,
                    mpc.last_result.info["backend"], int(nonfinite.sum()), np.stack(boundaries, axis=1))


def run_idle(envs, starts, steps: int) -> Episodes:
    """The do-nothing baseline: every env from its start executes the zero planner action (clipped
    to the bounds) for ``steps`` planner steps."""
    for env, start in zip(envs, starts):
        env.set_state(start)
    visited = np.stack([[env.step(np.zeros(env.planner_action_dim)) for _ in range(steps)] for env in envs])
    action = np.tile(np.clip(0.0, envs[0].action_low, envs[0].action_high), envs[0].frameskip)
    return Episodes(visited[:, -1].copy(), np.broadcast_to(action, (len(envs), steps, action.size)).copy(), [],
                    "none", 0, visited)


def score(env, final_states, goals) -> np.ndarray:
    """success [P] bool: ``env.is_success(final_states[p], goals[p])``."""
    return np.array([env.is_success(s, g) for s, g in zip(final_states, goals)], dtype=bool)


def score_anytime(env, boundary_states, goals) -> np.ndarray:
    """any-time success [P] bool: ``env.is_success`` at some replanning boundary,
    boundary_states [P, chunks, S]."""
    return np.array([any(env.is_success(s, g) for s in states) for states, g in zip(boundary_states, goals)],
                    dtype=bool)
