"""Does Adam miss because it cannot optimise the model's cost, or because the model is wrong where
Adam's plans go? Each planner makes one plan from each task's start; the plan's cost is taken twice:
as the model predicts it and as the simulator gives it (the plan executed open-loop from the start).

    python eval/plan_quality.py --out eval/results-adam20/plan-quality.md

Every planner optimises the same cost, the final state's squared error on the env's goal dims in
units of the data's std (``q = 1 / state_std^2``; CEM's objective in the evaluation): Adam with the
evaluation's settings (20 and 100 iterations) and CEM, on the evaluation's 50 tasks (seed 0), in
normalised action units, on the cpp backend. A plan the model scores below CEM's but the simulator
scores above it is one that exploits the model's error. The model's error at the plan's end is
the same weighted squared distance between the predicted and the reached final state. On Wall a
second table counts the plans whose predicted end lies across the middle wall from the start while
the simulator leaves the dot on the start's side.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the training package lives in the repository

import numpy as np  # noqa: E402
import torch  # noqa: E402

import wmkernels  # noqa: E402
from training import evaluate as ev  # noqa: E402

from task_table import emit, task_arguments  # noqa: E402

ENVS = ("PointMaze", "Wall", "PushT", "Pusher")
METHODS = ("offline", "online", "adversarial")
PLANNERS = {"Adam, 20 iters": ("adam", {"adam.iters": "20"}), "Adam, 100 iters": ("adam", {}), "CEM": ("cem", {})}


def final_cost(objective, final, goal) -> np.ndarray:
    """The objective's "last" cost [P] of final states [P, S] against goals [P, S] (one frame)."""
    return ((final - goal) ** 2 * objective.q.double().numpy()).sum(axis=1)


def plan_costs(env_name, method, tasks, seed, models_dir):
    """starts [P, S] and {planner: (predicted final [P, S], true final [P, S], predicted cost [P],
    true cost [P], model error [P]: the cost of the predicted final against the true one)} for one
    plan per task from its start."""
    spec = ev.ENV_SPECS[env_name]
    loaded = ev.load_model(Path(models_dir) / f"{env_name.lower()}-{method}.wmk", "cpu")
    if loaded.num_hist != 1:
        raise SystemExit(f"{env_name}-{method}: this script plans from one frame; the model stacks {loaded.num_hist}")
    envs = ev.make_envs(env_name, tasks)
    starts, goals = ev.make_tasks(envs[0], tasks, seed)
    goals = ev.unwrap_goals(goals, starts, spec.angle_dims)
    scale = loaded.action_scale
    model = scale.model(loaded.model)
    objective = ev.ObjectiveSettings("last").build(envs[0], spec.goal_dims, loaded.state_std, 1, 5, scale)
    low, high = ev.settings.planner_action_bounds(envs[0])
    z0, goal = (torch.as_tensor(x, dtype=model.dtype) for x in (starts, goals))
    costs = {}
    for name, (planner, overrides) in PLANNERS.items():
        settings = ev.apply_overrides(ev.default_settings(planner, "mpc", spec), planner, overrides)
        result = settings.build(model, objective, seed, "cpp").plan(z0, goal)
        cost, states = wmkernels.ops.rollout(model, z0, result.actions[:, None], goal, objective,
                                             return_states=True, backend="cpp")
        predicted_final = states[:, 0, -1].detach().double().numpy()
        predicted = final_cost(objective, predicted_final, goals)
        if not np.allclose(predicted, cost[:, 0].detach().double().numpy(), rtol=1e-3, atol=1e-6):
            raise SystemExit("the cost of the predicted final states disagrees with the planner's objective")
        true_final = []
        for env, start, actions in zip(envs, starts, scale.to_env(result.actions.detach().double().numpy(), low, high)):
            env.set_state(start)
            for action in actions:
                state = env.step(action)
            true_final.append(state)
        true_final = np.stack(true_final)
        costs[name] = (predicted_final, true_final, predicted, final_cost(objective, true_final, goals),
                       final_cost(objective, predicted_final, true_final))
    for env in envs:
        env.close()
    return starts, costs


def crossed(starts, finals) -> np.ndarray:
    """[P] bool: the final xy lies past the middle wall (x = 0) from the start's side."""
    return np.sign(finals[:, 0]) != np.sign(starts[:, 0])


def own_arguments(parser):
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--models-dir", default="models", help="holds <env>-<method>.wmk (default: models)")


def main():
    args = task_arguments(__doc__, own_arguments)
    torch.set_num_threads(1)
    lines = ["| env | model | planner | predicted cost (median) | true cost (median) | predicted below CEM's | "
             "true below CEM's | model error at the end (median) |", "|---|---|---|---|---|---|---|---|"]
    wall = ["", "| Wall model | planner | predicted across the wall, reached it | predicted across, stopped "
                "by it |", "|---|---|---|---|"]
    for env_name in args.envs:
        for method in args.methods:
            starts, costs = plan_costs(env_name, method, args.tasks, args.seed, args.models_dir)
            cem_predicted, cem_true = costs["CEM"][2:4]
            for name, (predicted_final, true_final, predicted, true, error) in costs.items():
                below = ("-", "-") if name == "CEM" else (f"{np.mean(predicted < cem_predicted):.0%}",
                                                          f"{np.mean(true < cem_true):.0%}")
                lines.append(f"| {env_name} | {method} | {name} | {np.median(predicted):.4f} | {np.median(true):.4f} "
                             f"| {below[0]} | {below[1]} | {np.median(error):.4f} |")
                if env_name == "Wall":
                    says, did = crossed(starts, predicted_final), crossed(starts, true_final)
                    wall.append(f"| {method} | {name} | {int((says & did).sum())} | {int((says & ~did).sum())} |")
    title = "One plan per task: its cost predicted by the model and reached in the simulator"
    emit(lines + (wall if "Wall" in args.envs else []), title, args)


if __name__ == "__main__":
    main()
