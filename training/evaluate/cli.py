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

import torch

import wmkernels

from ..config import METHODS
from ..envs import GYM_PREFIX
from ..model_info import OBJECTIVE_MODES
from .evaluation import evaluate
from .models import find_models, ship
from .report import write_report
from .settings import ENV_SPECS, MODES, PLANNER_CHOICES, PLANNERS, ObjectiveSettings, check_env_name, parse_overrides

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
    objective = parser.add_argument_group(
        "objective (how the planning steps are weighed; default: last for the built-in envs, all with base "
        "0.5 for gym:<id>)")
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
    parser.add_argument("--out", default="eval/results", help="output folder (default: eval/results)")
    parser.add_argument("--ship", nargs="+", metavar="RUN_DIR",
                        help="copy training runs' model.wmk into --models-dir as <env>-<method>.wmk, then exit")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if not args.ship and not args.env:
        parser.error("--env is required (or --ship)")
    if args.env == "all" and args.model:
        parser.error("--model needs one --env; with --env all models come from --models-dir")
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
                         overrides, args.progress, task_kwargs, objective)
    paths = write_report(rows, args.out)
    print(paths["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return rows
