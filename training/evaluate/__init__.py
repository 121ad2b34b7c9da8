"""Evaluate trained world models by planning with them in the real environments (docs/training.md).

Per env, ``tasks`` seeded (start, goal) pairs; every model plans all of them, batched, with every
planner (GD, Adam, CEM, MPPI) open-loop and with MPC, blind to the env's success signal; ``score``
applies ``is_success`` to the final states afterwards.

    settings    env specs (goal dims, MPC budgets) and planner settings
    models      model files and their sidecars; ``ship`` a training run
    episodes    tasks, the objective, the episode loop, scoring
    evaluation  ``evaluate``: the grid of runs on one env, one result row each
    report      results.csv, results.md, success_vs_time.png
    cli         ``python -m training.evaluate``
"""

from ..config import METHODS
from .cli import main, parse_args
from .episodes import (Episodes, make_envs, make_objective, make_tasks, run_episodes, score,
                       unwrap_goals)
from .errors import EvaluationError
from .evaluation import device_name, evaluate, result_row
from .models import LoadedModel, find_models, load_model, model_label, read_sidecar, run_metadata, ship
from .report import (PLANNER_LABELS, markdown_table, plot, report_markdown, settings_tables, write_csv,
                     write_report)
from .settings import (ENV_SPECS, MODES, PLANNERS, CEMSettings, EnvSpec, GradientSettings, MPPISettings,
                       apply_overrides, check_choice, default_settings, env_spec, parse_overrides)

__all__ = [
    "CEMSettings", "ENV_SPECS", "EnvSpec", "Episodes", "EvaluationError", "GradientSettings", "LoadedModel",
    "METHODS", "MODES", "MPPISettings", "PLANNERS", "PLANNER_LABELS", "apply_overrides", "check_choice",
    "default_settings", "device_name", "env_spec", "evaluate", "find_models", "load_model", "main",
    "make_envs", "make_objective", "make_tasks", "markdown_table", "model_label", "parse_args",
    "parse_overrides", "plot", "read_sidecar", "report_markdown", "result_row",
    "run_episodes", "run_metadata", "score", "settings_tables", "ship", "unwrap_goals", "write_csv",
    "write_report",
]
