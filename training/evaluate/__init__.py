"""Evaluate trained world models by planning with them in the real environments (docs/training.md).

Per env (a built-in one or ``gym:<id>``), ``tasks`` seeded (start, goal) pairs; every model plans
all of them, batched, with every planner (GD, Adam, CEM, MPPI; ``none``: the do-nothing baseline)
open-loop and with MPC, blind to the env's success signal; ``score`` applies ``is_success`` to the
final states afterwards.

    settings    env specs (goal dims, MPC budgets), the objective and planner settings
    models      model files and their metadata; ``ship`` a training run
    episodes    tasks, the episode loop, the do-nothing baseline, scoring
    evaluation  ``evaluate``: the grid of runs on one env, one result row each
    report      results.csv, results.md, success_vs_time.png, paired_changes.png
    cli         ``python -m training.evaluate``
"""

from ..config import METHODS
from .cli import main, parse_args
from .episodes import Episodes, make_envs, make_tasks, run_episodes, run_idle, score, score_anytime, unwrap_goals
from .errors import EvaluationError
from .evaluation import device_name, evaluate, result_row, success_text
from .models import (LoadedModel, check_model, find_models, load_model, model_label, planning_fields, read_sidecar,
                     run_metadata, ship)
from .report import (PLANNER_LABELS, markdown_table, plot, report_markdown, settings_tables, write_csv,
                     write_report)
from .settings import (BASELINE, ENV_SPECS, MODES, PLANNER_CHOICES, PLANNERS, CEMSettings, DoNothingSettings,
                       EnvSpec, GradientSettings, MPPISettings, ObjectiveSettings, apply_overrides, check_choice,
                       check_env_name, default_settings, env_spec, parse_overrides)

__all__ = [
    "BASELINE", "CEMSettings", "DoNothingSettings", "ENV_SPECS", "EnvSpec", "Episodes", "EvaluationError",
    "GradientSettings", "LoadedModel", "METHODS", "MODES", "MPPISettings", "ObjectiveSettings", "PLANNERS",
    "PLANNER_CHOICES", "PLANNER_LABELS", "apply_overrides", "check_choice", "check_env_name", "check_model",
    "default_settings", "device_name", "env_spec", "evaluate", "find_models", "load_model", "main",
    "make_envs", "make_tasks", "markdown_table", "model_label", "parse_args", "parse_overrides",
    "planning_fields", "plot", "read_sidecar", "report_markdown", "result_row", "run_episodes", "run_idle",
    "run_metadata", "score", "score_anytime", "settings_tables", "ship", "success_text", "unwrap_goals", "write_csv",
    "write_report",
]
