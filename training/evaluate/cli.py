"""Evaluate trained world models by planning with them in the real environments (docs/training.md).

    python -m training.evaluate --env Wall --model models/wall-offline.wmk --planner adam cem --mode mpc
    python -m training.evaluate --env all --models-dir models --tasks 50 --out eval/results
    python -m training.evaluate --ship runs/default2/Wall-offline --models-dir models
"""

from __future__ import annotations

import argparse

import torch

import wmkernels

from ..config import METHODS
from ..data import make_name
from .evaluation import evaluate
from .models import find_models, ship
from .report import write_report
from .settings import ENV_SPECS, MODES, PLANNERS, env_spec, parse_overrides


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--env", help=f"one of {', '.join(ENV_SPECS)}, or 'all'")
    parser.add_argument("--model", nargs="+", help="model files (.wmk) for --env; default: --models-dir's")
    parser.add_argument("--models-dir", default="models", help="holds <env>-<method>.wmk (default: models)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="methods looked up in --models-dir")
    parser.add_argument("--planner", nargs="+", default=list(PLANNERS), choices=PLANNERS)
    parser.add_argument("--mode", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="auto", choices=("auto",) + wmkernels._backend.BACKENDS)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda if available)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--set", dest="overrides", action="append", metavar="PLANNER.FIELD=VALUE",
                        help="override a planner setting, e.g. --set gd.lr=0.1 (repeatable)")
    parser.add_argument("--out", default="eval/results", help="output folder (default: eval/results)")
    parser.add_argument("--ship", nargs="+", metavar="RUN_DIR",
                        help="copy training runs' model.wmk and sidecar json into --models-dir, then exit")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if not args.ship and not args.env:
        parser.error("--env is required (or --ship)")
    if args.env == "all" and args.model:
        parser.error("--model needs one --env; with --env all models come from --models-dir")
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
    envs = list(ENV_SPECS) if args.env == "all" else [make_name(args.env)]
    rows = []
    for env in envs:
        env_spec(env)
        paths = args.model or find_models(args.models_dir, env, args.methods)
        rows += evaluate(env, paths, args.planner, args.mode, args.tasks, args.seed, args.backend, args.device,
                         overrides, args.progress)
    paths = write_report(rows, args.out)
    print(paths["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return rows
