"""The settings of a training run (``TrainConfig``), their checks, and config files.

A config comes from a mapping of field names to values (``make_config``), e.g. a JSON (or, with
PyYAML installed, YAML) file (``load_config_file``); unknown fields and bad values raise
``ConfigError`` naming the field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from wmkernels import _checks, activations

from .data import file_stem, make_name
from .models import ARCHITECTURES

METHODS = ("offline", "online", "adversarial")
"""Training methods: plain teacher forcing, OWM (online world modeling) and AWM (adversarial)."""

DEVICES = ("cpu", "cuda", "auto")
OWM_BACKENDS = ("auto", "torch", "triton", "cpp", "cuda")
INT_FIELDS = ("num_hist", "window", "stride", "epochs", "batch", "d_model", "heads", "layers", "owm_every",
              "owm_iters", "awm_steps", "save_every", "max_val_windows", "episodes", "length", "frameskip",
              "owm_windows", "owm_capacity", "threads")
"""Fields that are ints >= 1 (or null, where the annotation allows None)."""

_POSITIVE, _NON_NEGATIVE = dict(minimum=0.0, strict=True), dict(minimum=0.0)
NUMBER_BOUNDS = (("val_fraction", dict(minimum=0.0, strict=True, maximum=0.5)), ("lr", _POSITIVE),
                 ("weight_decay", _NON_NEGATIVE), ("grad_clip", _POSITIVE), ("awm_state_factor", _NON_NEGATIVE),
                 ("awm_action_factor", _NON_NEGATIVE), ("awm_alpha", _POSITIVE), ("owm_lr", _POSITIVE),
                 ("owm_noise", _NON_NEGATIVE), ("owm_init_std", _NON_NEGATIVE))
"""Finite-number fields and their bounds (``wmkernels._checks.finite_float``'s arguments)."""


class ConfigError(ValueError):
    """A bad configuration value; the message names the field."""


@dataclass
class TrainConfig:
    """Every setting of a training run (defaults: a few minutes per env on 2 CPU cores)."""

    env: str = ""                      # PointMaze, Wall, PushT, Pusher or gym:<id>
    method: str = "offline"            # offline | online | adversarial
    out: str | None = None             # output folder (default runs/<env>-<method>)
    # data
    data: str | None = None            # trajectory .npz; None: collect into <out>/data.npz
    episodes: int | None = None        # when collecting (default: data.default_size)
    length: int | None = None
    policy: str | None = None          # collection policy (default: training.data's)
    val_fraction: float = 0.1          # share of episodes held out
    max_val_windows: int = 4096        # held-out windows evaluated (a fixed random subset)
    # windows
    num_hist: int = 1                  # frames the model sees (stacked state)
    frameskip: int | None = None       # env actions per planner action (default: the data's)
    window: int = 5                    # transitions per training window = OWM planning horizon
    stride: int = 1                    # env steps between window starts
    # model
    arch: str = "mlp"                  # mlp (exports to MLPWorldModel) | transformer
    widths: list = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    d_model: int = 64                  # transformer only
    heads: int = 4
    layers: int = 2
    # optimisation
    epochs: int = 10
    batch: int = 256                   # global batch of windows
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = None
    seed: int = 0
    threads: int | None = None         # torch CPU threads (None: torch's default; under torchrun cores / ranks)
    device: str = "cpu"                # cpu | cuda | auto (cuda if available); under torchrun: cuda:LOCAL_RANK
    # AWM
    awm_state_factor: float = 0.05
    awm_action_factor: float = 0.02
    awm_std: str = "batch"             # batch (the radii of every batch, as released) | first (fixed from the first)
    awm_steps: int = 1                 # 1: FGSM with random start; k > 1: PGD-k
    awm_alpha: float | None = None     # step size / eps (default 1.25 for FGSM, 2.5 / k for PGD)
    # OWM
    owm_every: int = 10
    owm_windows: int | None = None     # windows corrected per OWM step and rank (None: the whole batch)
    owm_iters: int = 100
    owm_lr: float = 0.3
    owm_noise: float = 0.003
    owm_init_std: float = 1.0
    owm_backend: str = "auto"
    owm_capacity: int | None = None    # max entries per replay bucket (None: unbounded)
    # run
    init: str | None = None            # a model.pt to start from (fine-tuning): its weights and normalisation
    resume: bool = False               # continue the run in <out> from its checkpoint
    overwrite: bool = False            # replace the run in <out> (without it, an existing run is refused)
    save_every: int = 1
    progress: bool = True

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming the first bad field; return self."""
        if not isinstance(self.env, str) or not self.env:
            self._fail("env", "must name an environment (PointMaze, Wall, PushT, Pusher or gym:<id>)")
        for name, options in (("method", METHODS), ("arch", ARCHITECTURES), ("activation", activations.NAMES),
                              ("awm_std", ("first", "batch")), ("device", DEVICES), ("owm_backend", OWM_BACKENDS)):
            if getattr(self, name) not in options:
                self._fail(name, f"must be one of {list(options)}")
        for name in ("out", "data", "policy", "init"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                self._fail(name, "must be a string or null")
        if (not isinstance(self.widths, (list, tuple)) or not 1 <= len(self.widths) <= 4
                or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in self.widths)):
            self._fail("widths", "must be a list of 1 to 4 positive ints (the MLPWorldModel format)")
        for name in INT_FIELDS:
            self._check(name, _checks.positive_int)
        self._check("seed", _checks.positive_int, minimum=0)
        if self.d_model % self.heads:
            self._fail("heads", f"must divide d_model={self.d_model}")
        for name, bounds in NUMBER_BOUNDS:
            self._check(name, _checks.finite_float, **bounds)
        for name in ("resume", "overwrite", "progress"):
            if not isinstance(getattr(self, name), bool):
                self._fail(name, "must be true or false")
        if self.resume and self.overwrite:
            self._fail("overwrite", "cannot be combined with resume: resume continues the run, overwrite replaces it")
        return self

    def _fail(self, name: str, why: str):
        raise ConfigError(f"config field {name!r}: {why} (got {getattr(self, name)!r})")

    def _check(self, name: str, check, **bounds) -> None:
        """``check`` (a ``wmkernels._checks`` function) on the field, raising ConfigError; None passes
        where the field's annotation allows it."""
        value = getattr(self, name)
        if value is None and "None" in FIELDS[name].type:
            return
        try:
            check(f"config field {name!r}", value, **bounds)
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err)) from None

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{file_stem(make_name(self.env))}-{self.method}")


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
"""TrainConfig's dataclass fields by name."""


def load_config_file(path) -> dict:
    """A JSON (or, with PyYAML installed, YAML) mapping of TrainConfig fields."""
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError as err:
            raise ConfigError(f"config file {path} is YAML but PyYAML is not installed; use JSON") from err
        values = yaml.safe_load(text)
    else:
        values = json.loads(text)
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of field names to values")
    return values


def make_config(values: dict) -> TrainConfig:
    """TrainConfig from a mapping; unknown fields are refused by name."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known fields: {sorted(FIELDS)}")
    return TrainConfig(**values).validate()
