"""Tasks, the planning objective and the blind episode loop.

Tasks (``make_tasks``): ``tasks`` (start, goal) pairs per env from
``env.sample_task(np.random.default_rng(seed))``, the same list for every model, planner and mode.

Objective (``make_objective``): final-state cost on the newest frame of the predicted state,

    C = sum_d q_d (z_{T,d} - g_d)^2,   q_d = 1 / state_std_d^2 on the goal dims, 0 elsewhere.

Before each plan an angle goal is moved by a multiple of 2 pi to within pi of the current angle, so
the cost measures the short way round (the state holds the angle in [0, 2 pi)). Action bounds are
the env's, tiled over the frameskip.

Episodes (``run_episodes``): all tasks of an env run in lockstep and are planned in one batch. A
planner step is one planner action (``frameskip`` env actions). Open-loop: one plan of ``horizon``
actions, all executed. MPC (``wmkernels.MPC``, warm start): plan, execute the first ``execute``
actions, replan, for ``ENV_SPECS[env].mpc_steps`` planner steps; there is no early stop. The loop
never reads the env's success signal; ``score`` applies ``is_success`` to the final states
afterwards. Timing: the wall time of every planner call (CUDA synchronised), batched over all tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

import wmkernels


def make_envs(env_name: str, count: int) -> list:
    """``count`` independent instances of the env (one per task, stepped in lockstep)."""
    from ..envs import make

    return [make(env_name) for _ in range(count)]


def make_tasks(env, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """starts, goals [count, S] from ``env.sample_task`` with ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    pairs = [env.sample_task(rng) for _ in range(count)]
    return np.stack([s for s, _ in pairs]), np.stack([g for _, g in pairs])


def make_objective(env, goal_dims, state_std, num_hist: int) -> wmkernels.Objective:
    """Final-state cost with q_d = 1 / state_std_d^2 on ``goal_dims`` of the newest frame, 0 elsewhere
    (q [H S]); bounds: the env's action bounds tiled over the frameskip ([k A])."""
    S = env.state_dim
    q = np.zeros(num_hist * S)
    dims = (num_hist - 1) * S + np.asarray(goal_dims)
    q[dims] = 1.0 / np.asarray(state_std, dtype=np.float64)[list(goal_dims)] ** 2
    lo, hi = np.tile(env.action_low, env.frameskip), np.tile(env.action_high, env.frameskip)
    return wmkernels.Objective(mode="last", q=q, lo=lo, hi=hi)


@dataclass
class Episodes:
    """final_states [P, S], actions [P, steps, kA] executed, call_seconds [calls] (batched over P),
    backend used, nonfinite: tasks that got a non-finite planned action (executed as 0)."""

    final_states: np.ndarray
    actions: np.ndarray
    call_seconds: list
    backend: str
    nonfinite: int


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
                 angle_dims=()) -> Episodes:
    """Run the P tasks (envs[p] from starts[p] toward goals[p], [P, S]) in lockstep for ``steps``
    planner steps, planning for all of them in one batched call every ``execute`` steps
    (``wmkernels.MPC`` with warm start; open-loop is steps = execute = horizon). The model's state
    is the last ``num_hist`` frames, the start repeated at first. One untimed call first loads and
    compiles the backend. Never reads ``is_success``."""
    P, S = starts.shape
    model, device = planner.model, planner.model.device
    mpc = wmkernels.MPC(planner, execute=execute)
    for env, start in zip(envs, starts):
        env.set_state(start)
    history = np.repeat(starts[:, None], num_hist, axis=1)
    planner.plan(_as_model_input(history, model), _goal_input(goals, starts, angle_dims, num_hist, model))
    executed, seconds, nonfinite = [], [], np.zeros(P, dtype=bool)
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
        for action in planned.transpose(1, 0, 2)[: steps - len(executed)]:
            frames = np.stack([env.step(a) for env, a in zip(envs, action)])
            history = np.concatenate([history[:, 1:], frames[:, None]], axis=1)
            executed.append(action)
    return Episodes(history[:, -1].copy(), np.stack(executed, axis=1), seconds,
                    mpc.last_result.info["backend"], int(nonfinite.sum()))


def score(env, final_states, goals) -> np.ndarray:
    """success [P] bool: ``env.is_success(final_states[p], goals[p])``."""
    return np.array([env.is_success(s, g) for s, g in zip(final_states, goals)], dtype=bool)
