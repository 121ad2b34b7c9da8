"""World model files and what planning with them needs.

A model is ``<name>.wmk`` (an ``MLPWorldModel`` in raw units) carrying its metadata
(``training.model_info``, ``model.metadata``), as a training run writes it and ``ship`` copies it.
A model file without metadata (written before it existed) has a ``<name>.json`` sidecar beside it
holding env, method, num_hist, frameskip, state_std, optionally action_mean and action_std, and
the training config; ``ship`` still writes one for such a run folder. state_std: the training
data's per-dimension std [S]; action_mean, action_std: its planner actions' [k A].
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import wmkernels

from ..config import METHODS
from ..data import file_stem, make_name
from ..model_info import SCHEMA, ModelInfo
from .errors import EvaluationError
from .units import ActionScale


@dataclass
class LoadedModel:
    """A world model and what planning with it needs (its metadata)."""

    path: Path
    label: str             # the row label, e.g. "offline"
    model: wmkernels.MLPWorldModel
    env: str               # the env it was trained on
    num_hist: int
    frameskip: int
    state_std: np.ndarray  # [S]
    env_kwargs: dict = field(default_factory=dict)
    action_scale: ActionScale | None = None   # the training data's planner-action statistics, if recorded


def _file_metadata(path: Path) -> dict:
    """The metadata a model file carries ({} for none)."""
    try:
        return wmkernels.MLPWorldModel.load(path).metadata
    except wmkernels.ModelFileError as err:
        raise EvaluationError(f"cannot load model {path}: {err}") from err


def run_metadata(run_dir) -> dict:
    """The metadata of a training run folder's ``model.wmk``, or for a model without any the older
    sidecar (env, method, num_hist, frameskip, state_std, action_mean and action_std of the training
    episodes from ``model.pt``, and the training config)."""
    run_dir = Path(run_dir)
    if not (run_dir / "model.wmk").is_file():
        raise EvaluationError(f"{run_dir} holds no model.wmk (a training run with --arch mlp writes one)")
    meta = _file_metadata(run_dir / "model.wmk")
    if meta:
        return meta
    config_path, state_path = run_dir / "config.json", run_dir / "model.pt"
    for p in (config_path, state_path):
        if not p.exists():
            raise EvaluationError(f"{run_dir} is not a training run folder: {p} is missing")
    config = json.loads(config_path.read_text())
    state = torch.load(state_path, weights_only=True, map_location="cpu")
    norm = state["normalizer"]
    frameskip = config.get("frameskip") or state["action_dim"] // _env_action_dim(config["env"])
    return {"env": make_name(config["env"]), "method": config["method"], "num_hist": int(config["num_hist"]),
            "frameskip": int(frameskip), "state_std": norm["state_std"].double().tolist(),
            "action_mean": norm["action_mean"].double().tolist(), "action_std": norm["action_std"].double().tolist(),
            "train_config": config}


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
    raise EvaluationError(f"no metadata for {path}: the file carries none, and there is no {sidecar} "
                          f"(written by training.evaluate.ship) or training run folder beside it")


def planning_fields(meta: dict, path) -> dict:
    """env, method, num_hist, frameskip, state_std [S] and env_kwargs from a model's metadata (or an
    older sidecar); EvaluationError naming ``path`` if they are missing or bad."""
    if meta.get("schema") == SCHEMA:
        try:
            info = ModelInfo.from_metadata(meta)
        except ValueError as err:
            raise EvaluationError(f"the metadata of {path}: {err}") from err
        return {"env": info.env, "method": info.method, "num_hist": info.num_hist, "frameskip": info.frameskip,
                "state_std": info.normalization["state_std"], "env_kwargs": info.env_kwargs,
                "action_scale": ActionScale(info.normalization["action_mean"], info.normalization["action_std"])}
    missing = {"env", "num_hist", "frameskip", "state_std"} - set(meta)
    if missing:
        raise EvaluationError(f"the metadata of {path} lacks {sorted(missing)}")
    state_std = np.asarray(meta["state_std"], dtype=np.float64)
    if state_std.ndim != 1 or not np.all(state_std > 0):
        raise EvaluationError(f"the metadata of {path} needs a positive state_std vector")
    scale = None
    if "action_mean" in meta or "action_std" in meta:
        try:
            scale = ActionScale(meta["action_mean"], meta["action_std"])
        except (KeyError, EvaluationError) as err:
            raise EvaluationError(f"the metadata of {path}: bad or missing action statistics ({err})") from None
    return {"env": meta["env"], "method": meta.get("method", ""), "num_hist": int(meta["num_hist"]),
            "frameskip": int(meta["frameskip"]), "state_std": state_std, "env_kwargs": {}, "action_scale": scale}


def model_label(path: Path, env_name: str) -> str:
    """The file's name (or its run folder's) without the env prefix: ``wall-offline.wmk`` -> ``offline``,
    ``runs/gym-Reacher-v5-online/model.wmk`` -> ``online``."""
    name = path.parent.name if path.stem == "model" else path.stem
    prefix = f"{file_stem(make_name(env_name)).lower()}-"
    return name[len(prefix):] if name.lower().startswith(prefix) else name


def load_model(path, device) -> LoadedModel:
    """Load ``path`` onto ``device`` with its metadata."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"model file {path} does not exist")
    try:
        model = wmkernels.MLPWorldModel.load(path, device=device)
    except wmkernels.ModelFileError as err:
        raise EvaluationError(f"cannot load model {path}: {err}") from err
    fields = planning_fields(model.metadata or read_sidecar(path), path)
    return LoadedModel(path, model_label(path, fields["env"]), model, make_name(fields["env"]), fields["num_hist"],
                       fields["frameskip"], fields["state_std"], fields["env_kwargs"], fields["action_scale"])


def check_model(loaded: LoadedModel, env) -> None:
    """EvaluationError unless ``loaded`` fits ``env``: trained on it, same frameskip, state and action sizes."""
    path, model, H = loaded.path, loaded.model, loaded.num_hist
    if loaded.env != env.name:
        raise EvaluationError(f"model {path} was trained on {loaded.env}, not {env.name}")
    if loaded.frameskip != env.frameskip:
        raise EvaluationError(f"model {path} has frameskip {loaded.frameskip} but {env.name} runs with {env.frameskip}")
    if model.state_dim != H * env.state_dim or model.action_dim != env.planner_action_dim:
        raise EvaluationError(
            f"model {path} maps state {model.state_dim} and action {model.action_dim}, but {env.name} with "
            f"num_hist {H} needs state {H * env.state_dim} and action {env.planner_action_dim}")
    if loaded.state_std.shape != (env.state_dim,):
        raise EvaluationError(f"the metadata of {path} needs a state_std of length {env.state_dim}")
    if loaded.action_scale is not None and loaded.action_scale.mean.shape != (env.planner_action_dim,):
        raise EvaluationError(f"the metadata of {path} needs action statistics of length {env.planner_action_dim}")


def ship(run_dir, models_dir) -> Path:
    """Copy a training run's ``model.wmk`` to ``models_dir/<env>-<method>.wmk`` (the env name made safe
    for a file name, lower case: ``gym-reacher-v5-offline.wmk``); a model without metadata gets its
    sidecar ``.json`` beside it."""
    meta = run_metadata(run_dir)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / f"{file_stem(make_name(meta['env'])).lower()}-{meta['method']}.wmk"
    shutil.copyfile(Path(run_dir) / "model.wmk", dest)
    if meta.get("schema") != SCHEMA:
        dest.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return dest


def find_models(models_dir, env_name: str, methods=METHODS) -> list[Path]:
    """``models_dir/<env>-<method>.wmk`` for each method that has one (the env name as ``ship`` writes it)."""
    stem = file_stem(make_name(env_name)).lower()
    paths = [Path(models_dir) / f"{stem}-{m}.wmk" for m in methods]
    found = [p for p in paths if p.exists()]
    if not found:
        raise EvaluationError(f"no model for {env_name} in {models_dir}: looked for {[p.name for p in paths]}")
    return found
