"""Which tasks do the planners miss? Any-time success split by one property of the task: on
PointMaze and Wall whether the straight segment from start to goal is free (the planners' 5-step
horizon sees 25 env steps ahead, and the cost is the distance to the goal, so a task whose straight
way is blocked asks a myopic planner to move away from the goal first); on PushT whether the block
must turn by less than the success test's angle tolerance (pi / 9) between start and goal.

    python eval/geometry.py --out eval/results-adam20/geometry.md

Runs Adam under MPC (20 warm-started iterations) on each env's online model (``--adam-model``
names another method) and CEM under MPC on its offline model, both from ``--models-dir``
(``<env>-<method>.wmk``), the settings of eval/results-adam20, on the evaluation's 50 tasks (seed 0).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the training package lives in the repository

import numpy as np  # noqa: E402
import torch  # noqa: E402

from training import evaluate as ev  # noqa: E402
from training.envs.pusht import ANGLE_TOLERANCE, angle_difference  # noqa: E402
from training.envs.wall import DOOR_CENTER, DOOR_HALF_WIDTH  # noqa: E402
from training.evaluate.stats import wilson_interval  # noqa: E402

from task_table import emit, task_arguments  # noqa: E402

ADAM = ("adam", {"adam.iters": "20"})
CEM = ("offline", "cem", {})


def straight_way_is_free(env, start, goal, samples=200) -> bool:
    """Whether every point of the segment start-goal (xy) is free of walls."""
    if env.name == "Wall":
        t = -start[0] / (goal[0] - start[0])                      # where the segment crosses x = 0
        return abs(start[1] + t * (goal[1] - start[1]) - DOOR_CENTER) < DOOR_HALF_WIDTH
    points = start[:2] + np.linspace(0, 1, samples)[:, None] * (goal[:2] - start[:2])
    return all(env.is_free(p) for p in points)


def block_turn_is_small(env, start, goal) -> bool:
    """Whether the T's angle differs between start and goal by less than the angle tolerance."""
    return angle_difference(start[4], goal[4]) < ANGLE_TOLERANCE


SPLITS = {"PointMaze": ("straight way free", straight_way_is_free), "Wall": ("straight way free", straight_way_is_free),
          "PushT": ("block turn under pi/9", block_turn_is_small)}
"""env: (what the first group's tasks have, the test that puts a task there)."""


def anytime_success(env_name, models_dir, label, planner, overrides, tasks, seed):
    envs = ev.make_envs(env_name, tasks)
    spec = ev.ENV_SPECS[env_name]
    loaded = ev.load_model(str(Path(models_dir) / f"{env_name.lower()}-{label}.wmk"), "cpu")
    settings = ev.apply_overrides(ev.default_settings(planner, "mpc", spec), planner, overrides)
    scale = loaded.action_scale
    cost = ev.settings.default_objective(planner, spec).build(envs[0], spec.goal_dims, loaded.state_std,
                                                              loaded.num_hist, settings.horizon, scale)
    starts, goals = ev.make_tasks(envs[0], tasks, seed)
    low, high = ev.settings.planner_action_bounds(envs[0])
    episodes = ev.run_episodes(envs, settings.build(scale.model(loaded.model), cost, seed, "cpp"), starts, goals,
                               spec.mpc_steps, settings.execute, loaded.num_hist, spec.angle_dims,
                               lambda u: scale.to_env(u, low, high))
    return envs[0], starts, goals, ev.score_anytime(envs[0], episodes.boundary_states, goals)


def rate(hits) -> str:
    k, n = int(hits.sum()), len(hits)
    if n == 0:
        return "-"
    low, high = wilson_interval(k, n)
    return f"{k}/{n} = {100 * k / n:.0f}% [{100 * low:.0f}, {100 * high:.0f}]"


def add_arguments(parser):
    parser.add_argument("--models-dir", default="models", help="holds <env>-<method>.wmk (default: models)")
    parser.add_argument("--adam-model", default="online", help="the method whose model Adam plans on")
    parser.add_argument("--envs", nargs="+", default=list(SPLITS), choices=list(SPLITS))


def main():
    args = task_arguments(__doc__, add_arguments)
    torch.set_num_threads(1)
    runs = {f"Adam + MPC, {args.adam_model}": (args.adam_model,) + ADAM, "CEM + MPC, offline": CEM}
    lines = ["| env | planner | tasks split by | yes: solved | no: solved |", "|---|---|---|---|---|"]
    for env_name in args.envs:
        property_name, has_property = SPLITS[env_name]
        for name, (label, planner, overrides) in runs.items():
            env, starts, goals, solved = anytime_success(env_name, args.models_dir, label, planner, overrides,
                                                         args.tasks, args.seed)
            yes = np.array([has_property(env, s, g) for s, g in zip(starts, goals)])
            lines.append(f"| {env_name} | {name} | {property_name} | {rate(solved[yes])} | {rate(solved[~yes])} |")
    emit(lines, "Any-time success by task geometry", args)


if __name__ == "__main__":
    main()
