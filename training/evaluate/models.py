"""World model files and their sidecars.

A model is ``<name>.wmk`` (an ``MLPWorldModel`` in raw units) with ``<name>.json`` beside it (env,
method, num_hist, frameskip, state_std, the training config), as ``ship`` writes them; or a
training run's ``model.wmk`` inside its folder (``config.json`` and ``model.pt`` beside it).
state_std: the training data's per-dimension std [S].
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import wmkernels

from ..config import METHODS
from ..data import make_name
from .errors import EvaluationError


@dataclass
class LoadedModel:
    """A world model and what planning with it needs (its sidecar)."""

    path: Path
    label: str             # the row label, e.g. "offline"
    model: wmkernels.MLPWorldModel
    num_hist: int
    state_std: np.ndarray  # [S]


def run_metadata(run_dir) -> dict:
    """The sidecar of a training run folder: env, method, num_hist, frameskip, state_std (of the
    training episodes, from ``model.pt``) and the training config."""
    run_dir = Path(run_dir)
    config_path, state_path = run_dir / "config.json", run_dir / "model.pt"
    for p in (config_path, state_path):
        if not p.exists():
            raise EvaluationError(f"{run_dir} is not a training run folder: {p} is missing")
    config = json.loads(config_path.read_text())
    state = torch.load(state_path, weights_only=True, map_location="cpu")
    state_std = state["normalizer"]["state_std"].double().tolist()
    frameskip = config.get("frameskip") or state["action_dim"] // _env_action_dim(config["env"])
    return {"env": make_name(config["env"]), "method": config["method"], "num_hist": int(config["num_hist"]),
            "frameskip": int(frameskip), "state_std": state_std, "train_config": config}


def _env_action_dim(env_name: str) -> int:
    from ..envs import make

    env = make(env_name)
    env.close()
    return env.action_dim


def read_sidecar(path: Path) -> dict:
    """The json beside ``path`` (``<stem>.json``), else the metadata of the run folder holding it."""
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        try:
            return json.loads(sidecar.read_text())
        except json.JSONDecodeError as err:
            raise EvaluationError(f"{sidecar} is not valid json: {err}") from err
    if (path.parent / "config.json").exists():
        return run_metadata(path.parent)
    raise EvaluationError(f"no sidecar for {path}: expected {sidecar} (written by training.evaluate.ship) "
                          f"or a training run folder with config.json and model.pt")


def model_label(path: Path, sidecar: dict) -> str:
    """The file's name (or its run folder's) without the env prefix: ``wall-offline.wmk`` -> ``offline``."""
    name = path.parent.name if path.stem == "model" else path.stem
    prefix = f"{sidecar['env'].lower()}-"
    return name[len(prefix):] if name.lower().startswith(prefix) else name


def load_model(path, env, device) -> LoadedModel:
    """Load ``path`` and its sidecar onto ``device``; check it fits ``env`` (state, action, frameskip)."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"model file {path} does not exist")
    try:
        model = wmkernels.MLPWorldModel.load(path, device=device)
    except wmkernels.ModelFileError as err:
        raise EvaluationError(f"cannot load model {path}: {err}") from err
    sidecar = read_sidecar(path)
    missing = {"env", "num_hist", "frameskip", "state_std"} - set(sidecar)
    if missing:
        raise EvaluationError(f"the sidecar of {path} lacks {sorted(missing)}")
    H, k = int(sidecar["num_hist"]), int(sidecar["frameskip"])
    if make_name(sidecar["env"]) != env.name:
        raise EvaluationError(f"model {path} was trained on {sidecar['env']}, not {env.name}")
    if k != env.frameskip:
        raise EvaluationError(f"model {path} has frameskip {k} but {env.name} runs with {env.frameskip}")
    if model.state_dim != H * env.state_dim or model.action_dim != env.planner_action_dim:
        raise EvaluationError(
            f"model {path} maps state {model.state_dim} and action {model.action_dim}, but {env.name} with "
            f"num_hist {H} needs state {H * env.state_dim} and action {env.planner_action_dim}")
    state_std = np.asarray(sidecar["state_std"], dtype=np.float64)
    if state_std.shape != (env.state_dim,) or not np.all(state_std > 0):
        raise EvaluationError(f"the sidecar of {path} needs a positive state_std of length {env.state_dim}")
    return LoadedModel(path, model_label(path, sidecar), model, H, state_std)


def ship(run_dir, models_dir) -> Path:
    """Copy a training run's ``model.wmk`` to ``models_dir/<env>-<method>.wmk`` with its sidecar json."""
    sidecar = run_metadata(run_dir)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / f"{sidecar['env'].lower()}-{sidecar['method']}.wmk"
    shutil.copyfile(Path(run_dir) / "model.wmk", dest)
    dest.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
    return dest


def find_models(models_dir, env_name: str, methods=METHODS) -> list[Path]:
    """``models_dir/<env>-<method>.wmk`` for each method that has one."""
    paths = [Path(models_dir) / f"{make_name(env_name).lower()}-{m}.wmk" for m in methods]
    found = [p for p in paths if p.exists()]
    if not found:
        raise EvaluationError(f"no model for {env_name} in {models_dir}: looked for {[p.name for p in paths]}")
    return found
