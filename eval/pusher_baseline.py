"""How often does doing nothing solve a Pusher task, and how far does the object move meanwhile?

    python eval/pusher_baseline.py --out eval/results-pusher/baseline.md

Executes zero torques for the evaluation's MPC budget (20 planner steps) from each of the 50 tasks'
starts (seed 0), as given and with the start's velocities zeroed, and reports the any-time success
(checked after every planner step) and the median distance the object moves, beside the median
distance each task asks it to move.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the training package lives in the repository

import numpy as np  # noqa: E402

from training import evaluate as ev  # noqa: E402
from training.envs.pusher import OBJECT  # noqa: E402

from task_table import emit, task_arguments  # noqa: E402


def do_nothing(env, starts, goals, steps):
    """Any-time success ``[N]`` and object displacement ``[N]`` under zero torques."""
    solved, moved = [], []
    for start, goal in zip(starts, goals):
        env.set_state(start)
        hit = False
        for _ in range(steps):
            state = env.step(np.zeros(env.planner_action_dim))
            hit = hit or env.is_success(state, goal)
        solved.append(hit)
        moved.append(np.linalg.norm(state[OBJECT] - start[OBJECT]))
    return np.array(solved), np.array(moved)


def main():
    args = task_arguments(__doc__)
    env = ev.make_envs("Pusher", 1)[0]
    starts, goals = ev.make_tasks(env, args.tasks, args.seed)
    at_rest = starts.copy()
    at_rest[:, env.model.nq:] = 0.0
    asked = np.median(np.linalg.norm(goals[:, OBJECT] - starts[:, OBJECT], axis=1))
    steps = ev.ENV_SPECS["Pusher"].mpc_steps
    lines = [f"Median object distance a task asks for: {asked:.3f} m (success within 0.025 m)\n",
             "| zero torques from | solved (any-time) | median object move (m) |", "|---|---|---|"]
    for name, task_starts in (("the task's start", starts), ("the start, velocities zeroed", at_rest)):
        solved, moved = do_nothing(env, task_starts, goals, steps)
        lines.append(f"| {name} | {solved.sum()}/{len(solved)} | {np.median(moved):.3f} |")
    emit(lines, "Pusher: doing nothing", args)


if __name__ == "__main__":
    main()
