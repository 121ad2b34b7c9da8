"""Evaluate trained world models by planning with them in the real environments (docs/training.md).

    python -m training.evaluate --env Wall --model models/wall-offline.wmk --planner adam cem --mode mpc
    python -m training.evaluate --env all --models-dir models --tasks 50 --out eval/results
    python -m training.evaluate --env gym:Reacher-v5 --model runs/gym-Reacher-v5-offline/model.wmk \\
        --planner adam cem none --objective all --objective-base 0.7
    python -m training.evaluate --ship runs/gym-Reacher-v5-offline --models-dir models

A gym:<id> env's tasks are two states --goal-steps planner steps apart on fresh random-action
trajectories; success: the error over --success-dims (default: every joint but free/ball joints
and unlimited root slides, hinge angles wrapped) below --success-tol. Planner 'none' is the
do-nothing baseline (zero actions).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import wmkernels

from ..config import METHODS
from ..data import make_name
from ..envs import GYM_PREFIX
from ..model_info import OBJECTIVE_MODES
from .errors import EvaluationError
from .evaluation import evaluate
from .models import find_models, ship
from .report import write_report
from .settings import (ENV_SPECS, MODES, PLANNER_CHOICES, PLANNERS, ObjectiveSettings, check_env_name, env_spec,
                       parse_overrides)
from .units import ACTION_UNITS

TASK_FLAGS = {"goal_steps": "--goal-steps", "success_dims": "--success-dims", "success_tol": "--success-tol"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0],
                                     epilog="\n".join(__doc__.split("\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", help=f"one of {', '.join(ENV_SPECS)}, {GYM_PREFIX}<id> (a gymnasium MuJoCo env), "
                                      f"or 'all' (the built-in ones)")
    parser.add_argument("--model", nargs="+", help="model files (.wmk) for --env; default: --models-dir's")
    parser.add_argument("--models-dir", default="models", help="holds <env>-<method>.wmk (default: models)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="methods looked up in --models-dir")
    parser.add_argument("--planner", nargs="+", default=list(PLANNERS), choices=PLANNER_CHOICES,
                        help="planners (default: all but 'none', the do-nothing baseline)")
    parser.add_argument("--mode", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="auto", choices=("auto",) + wmkernels._backend.BACKENDS)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda if available)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--set", dest="overrides", action="append", metavar="PLANNER.FIELD=VALUE",
                        help="override a planner setting, e.g. --set gd.lr=0.1 (repeatable)")
    parser.add_argument("--action-units", default="normalised", choices=ACTION_UNITS,
                        help="the planners' variable: the action in units of the training data's std "
                             "(normalised, the default) or the env's own (raw)")
    objective = parser.add_argument_group(
        "objective (how the planning steps are weighed, for every planner; default: all with base 0.5 for GD "
        "and Adam, and for CEM and MPPI last on the built-in envs, all with base 0.5 on gym:<id>)")
    objective.add_argument("--objective", dest="objective_mode", choices=OBJECTIVE_MODES,
                           help="last: the final state only; all: every step t, weighted base^(t-1)")
    objective.add_argument("--objective-base", type=float, help="the base of 'all' (given alone, it implies 'all')")
    objective.add_argument("--objective-weights", type=float, nargs="+", metavar="W",
                           help="one weight per planning step (as many as the horizon), instead of the mode")
    task = parser.add_argument_group(f"tasks of a {GYM_PREFIX}<id> env")
    task.add_argument("--goal-steps", type=int, help="planner steps from start to goal (default 5); "
                                                     "MPC runs twice as many")
    task.add_argument("--success-dims", type=int, nargs="+", metavar="D",
                      help="state indices compared with the goal (default: from the joint types)")
    task.add_argument("--success-tol", type=float, help="success when the error's norm is below this (default 0.1)")
    accuracy = parser.add_argument_group("model accuracy (instead of planning)")
    accuracy.add_argument("--accuracy", metavar="DATA", help="a dataset (.npz, training.data collect) to roll the "
                                                            "held-out episodes' true actions of through each model")
    accuracy.add_argument("--accuracy-steps", type=int, default=5, help="planner steps per window (default 5)")
    parser.add_argument("--out", default="eval/results", help="output folder (default: eval/results)")
    parser.add_argument("--ship", nargs="+", metavar="RUN_DIR",
                        help="copy training runs' model.wmk into --models-dir as <env>-<method>.wmk, then exit")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if not args.ship and not args.env:
        parser.error("--env is required (or --ship)")
    if args.env == "all" and (args.model or args.accuracy):
        parser.error("--model and --accuracy need one --env; with --env all models come from --models-dir")
    given = [flag for key, flag in TASK_FLAGS.items() if getattr(args, key) is not None]
    if given and not (args.env or "").startswith(GYM_PREFIX):
        parser.error(f"{', '.join(given)} set the tasks of a {GYM_PREFIX}<id> env; the built-in envs have their own")
    return args


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    if args.ship:
        for run_dir in args.ship:
            print(f"shipped {ship(run_dir, args.models_dir)}")
        return []
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.accuracy:
        return report_accuracy(args)
    overrides = parse_overrides(args.overrides)
    objective = None
    if (args.objective_mode, args.objective_base, args.objective_weights) != (None, None, None):
        objective = ObjectiveSettings(args.objective_mode or ("all" if args.objective_base is not None else "last"),
                                      1.0 if args.objective_base is None else args.objective_base,
                                      None if args.objective_weights is None else tuple(args.objective_weights))
    task_kwargs = {key: getattr(args, key) for key in TASK_FLAGS if getattr(args, key) is not None}
    envs = list(ENV_SPECS) if args.env == "all" else [check_env_name(args.env)]
    rows = []
    for env in envs:
        paths = args.model or find_models(args.models_dir, env, args.methods)
        rows += evaluate(env, paths, args.planner, args.mode, args.tasks, args.seed, args.backend, args.device,
                         overrides, args.progress, task_kwargs, objective, args.action_units)
    paths = write_report(rows, args.out)
    print(paths["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return rows


def report_accuracy(args) -> dict:
    """``--accuracy DATA``: each model's share of held-out windows predicted within the success tolerance."""
    from ..data import Trajectories
    from ..envs import make
    from .accuracy import accuracy_table, rollout_accuracy
    from .models import check_model, load_model, read_sidecar

    env_name = check_env_name(args.env)
    if not Path(args.accuracy).is_file():
        raise EvaluationError(f"--accuracy: no such dataset {args.accuracy!r}")
    data = Trajectories.load(args.accuracy)
    if make_name(data.metadata["env"]) != env_name:
        raise EvaluationError(f"--accuracy: {args.accuracy} holds {data.metadata['env']} episodes, not {env_name}")
    env = make(env_name, **(data.metadata.get("env_kwargs") or {}))
    results = {}
    for path in args.model or find_models(args.models_dir, env_name, args.methods):
        loaded = load_model(path, "cpu")
        check_model(loaded, env)
        config = (loaded.model.metadata or read_sidecar(Path(path))).get("train_config") or {}
        results[loaded.label] = rollout_accuracy(loaded, env, data, args.accuracy_steps,
                                                 config.get("val_fraction", 0.1), dims=env_spec(env).read_dims)
    env.close()
    print(accuracy_table(env_name, results))
    return results
