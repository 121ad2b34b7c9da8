"""Teacher-forcing training of world models: ``--method offline | online | adversarial``.

    python -m training.train --env PointMaze --method adversarial
    python -m training.train --config run.json --epochs 5          # flags override the file
    torchrun --nproc_per_node 2 -m training.train --env Wall        # DDP over gloo (CPU) / nccl (GPU)

Data. ``--data file.npz`` (``python -m training.data collect``) or, without it, a dataset of
``--episodes`` x ``--length`` (default: ``training.data.DEFAULT_SIZES``) collected once into
``<out>/data.npz``. The last ``val_fraction`` of the episodes are held out. Training windows
hold ``num_hist + window`` frames at ``frameskip`` (``training.data``'s alignment): ``window``
consecutive transitions, each seeing the ``num_hist`` frames up to its own. Each window is also
one OWM planning problem of horizon ``window``.

CPU threads. ``--threads`` sets torch's thread count; on a machine shared with other jobs
``--threads 1`` avoids thread oversubscription (2 threads on a loaded 2-core machine ran up to
5x slower than 1 in our measurements).

Units and loss. Statistics of the training episodes (``training.data.compute_stats``, plus the
mean and std of the frame change over ``frameskip`` steps) normalise states and actions; the
model works in those units and the loss is the MSE of the predicted newest frame in normalised
state units, averaged over the window's transitions (teacher forcing: every transition starts
from true frames).

Methods. offline: one update per batch on the data. adversarial (AWM): the same update on the
FGSM-perturbed batch only (``training.synthesis.AdversarialPerturbation``). online (OWM): every
``owm_every`` batches, ``owm_windows`` windows of the batch are planned on with the current model
and replayed in the simulator; the corrected windows enter a replay cache bucket; batch i of
every later epoch does one extra update per cached entry in bucket i.

Outputs in ``<out>``: ``log.csv`` (epoch, step, train_loss, val_loss, cache_entries,
owm_dropped: rank 0's OWM windows whose start state the env refused, seconds, cpu_seconds of this
process), ``checkpoint.pt`` (model, optimizer, epoch, replay caches, RNG state; ``torch.save`` of
tensors and plain containers, loaded with ``weights_only=True``; ``--resume`` continues from it),
``model.pt`` (trained module, normaliser and config), and for ``arch=mlp`` ``model.wmk``: the
``wmkernels.MLPWorldModel`` with normalisation folded in (raw state and raw planner action in,
raw next state out). With ``num_hist`` > 1 the state is the stacked history (oldest frame first)
and the export's skip is the frame shift matrix.

Distributed. Under torchrun (WORLD_SIZE > 1) each global batch of ``batch`` windows is split
across ranks; gradients are averaged by DDP with per-rank weights that make the update equal to
the single-process one; AWM's std and random start are drawn for the global batch. Only rank 0
writes files.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from .data import DEFAULT_SIZES, Trajectories, TrajectoryDataset, collect, compute_stats, make_name
from .models import ARCHITECTURES, Normalizer, RawUnits, build_model, export_mlp
from .synthesis import AdversarialPerturbation, OnlineWorldModeling, ReplayCache

METHODS = ("offline", "online", "adversarial")
CHECKPOINT_VERSION = 1
LOG_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "cache_entries", "owm_dropped", "seconds", "cpu_seconds")


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
    episodes: int | None = None        # when collecting (default: DEFAULT_SIZES)
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
    awm_std: str = "first"             # first (fixed from the first minibatch) | batch
    awm_steps: int = 1                 # 1: FGSM with random start; k > 1: PGD-k
    awm_alpha: float | None = None     # step size / eps (default 1.25 for FGSM, 2.5 / k for PGD)
    # OWM
    owm_every: int = 10
    owm_windows: int | None = 32       # windows corrected per OWM step and rank (None: all)
    owm_iters: int = 100
    owm_lr: float = 0.3
    owm_noise: float = 0.003
    owm_init_std: float = 1.0
    owm_backend: str = "auto"
    owm_capacity: int | None = None    # max entries per replay bucket (None: unbounded)
    # run
    resume: bool = False
    save_every: int = 1
    progress: bool = True

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first bad field; return self."""

        def fail(name, why):
            raise ConfigError(f"config field {name!r}: {why} (got {getattr(self, name)!r})")

        def integer(name, minimum=1, optional=False):
            v = getattr(self, name)
            if v is None and optional:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                fail(name, f"must be an int >= {minimum}" + (" or null" if optional else ""))

        def number(name, minimum=None, strict=False, maximum=None, optional=False):
            v = getattr(self, name)
            if v is None and optional:
                return
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                fail(name, "must be a finite number" + (" or null" if optional else ""))
            if minimum is not None and (v <= minimum if strict else v < minimum):
                fail(name, f"must be {'>' if strict else '>='} {minimum}")
            if maximum is not None and v > maximum:
                fail(name, f"must be <= {maximum}")

        def choice(name, options):
            if getattr(self, name) not in options:
                fail(name, f"must be one of {list(options)}")

        if not isinstance(self.env, str) or not self.env:
            fail("env", "must name an environment (PointMaze, Wall, PushT, Pusher or gym:<id>)")
        choice("method", METHODS)
        choice("arch", ARCHITECTURES)
        from wmkernels import activations
        choice("activation", activations.NAMES)
        choice("awm_std", ("first", "batch"))
        choice("device", ("cpu", "cuda", "auto"))
        choice("owm_backend", ("auto", "torch", "triton", "cpp", "cuda"))
        for name in ("out", "data", "policy"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                fail(name, "must be a string or null")
        if (not isinstance(self.widths, (list, tuple)) or not 1 <= len(self.widths) <= 4
                or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in self.widths)):
            fail("widths", "must be a list of 1 to 4 positive ints (the MLPWorldModel format)")
        for name in ("num_hist", "window", "stride", "epochs", "batch", "d_model", "heads", "layers",
                     "owm_every", "owm_iters", "awm_steps", "save_every", "max_val_windows"):
            integer(name)
        for name in ("episodes", "length", "frameskip", "owm_windows", "owm_capacity", "threads"):
            integer(name, optional=True)
        integer("seed", minimum=0)
        if self.d_model % self.heads:
            fail("heads", f"must divide d_model={self.d_model}")
        number("val_fraction", minimum=0.0, strict=True, maximum=0.5)
        number("lr", minimum=0.0, strict=True)
        number("weight_decay", minimum=0.0)
        number("grad_clip", minimum=0.0, strict=True, optional=True)
        number("awm_state_factor", minimum=0.0)
        number("awm_action_factor", minimum=0.0)
        number("awm_alpha", minimum=0.0, strict=True, optional=True)
        number("owm_lr", minimum=0.0, strict=True)
        number("owm_noise", minimum=0.0)
        number("owm_init_std", minimum=0.0)
        for name in ("resume", "progress"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "must be true or false")
        return self

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{make_name(self.env).replace(':', '_')}-{self.method}")


# ----------------------------------------------------------------------------- config I/O
def _parse_list(text):
    return [int(x) for x in str(text).replace("[", "").replace("]", "").split(",") if x.strip()]


def _optional(kind):
    def parse(text):
        return None if str(text).lower() in ("none", "null") else kind(text)
    parse.__name__ = kind.__name__
    return parse


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
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
    return TrainConfig(**values).validate()


def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="JSON (or YAML) file of config fields; flags override it")
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "widths":
            parser.add_argument(flag, dest=f.name, type=_parse_list, default=None, help="e.g. 256,256")
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
            parser.add_argument(flag, dest=f.name, type=_optional(kind), default=None,
                                help=f"default: {value}")
    args = parser.parse_args(argv)
    values = load_config_file(args.config) if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k != "config" and v is not None})
    return make_config(values)


# ----------------------------------------------------------------------------- distributed
def _dist_info():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _init_distributed(backend_gpu: bool = False):
    """Join the torchrun process group if WORLD_SIZE > 1; returns True if this call created it."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if backend_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if backend_gpu else "gloo")
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.get_world_size()))
        return True
    return False


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("config field 'device': 'cuda' but torch sees no CUDA device (got 'cuda')")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum over ranks, in place (through the GPU under nccl)."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_backend() == "nccl" and t.device.type != "cuda":
            x = t.cuda()
            dist.all_reduce(x)
            t.copy_(x.cpu())
        else:
            dist.all_reduce(t)
    return t


def _barrier():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# ----------------------------------------------------------------------------- data
def windows_of(data: Trajectories, episodes, frames: int, frameskip: int, stride: int):
    """Raw float32 (frames [W, frames, S], actions [W, frames-1, k A]) of every window with
    ``frames`` frames at ``frameskip`` (training.data's alignment, num_hist = frames - 1)."""
    index = TrajectoryDataset(data, frames - 1, frameskip, stride, episodes).index
    e, t0 = index[:, 0:1], index[:, 1:2]
    k, N = frameskip, frames - 1
    states = data.states[e, t0 + k * np.arange(N + 1)]
    actions = data.actions[e, t0 + np.arange(N * k)].reshape(len(index), N, -1)
    return torch.from_numpy(states.astype(np.float32)), torch.from_numpy(actions.astype(np.float32))


def make_normalizer(data: Trajectories, episodes, frameskip: int, num_hist: int) -> Normalizer:
    """Statistics of the given episodes: states, planner actions, and the frame change over frameskip."""
    subset = Trajectories(data.states[episodes], data.actions[episodes], data.metadata)
    stats = compute_stats(subset, frameskip)
    change = (subset.states[:, frameskip:] - subset.states[:, :-frameskip]).reshape(-1, subset.states.shape[-1])
    delta_std = change.std(0)
    delta_std[delta_std < 1e-6] = 1.0
    return Normalizer(stats["state_mean"], stats["state_std"], stats["action_mean"], stats["action_std"],
                      torch.tensor(change.mean(0), dtype=torch.float32),
                      torch.tensor(delta_std, dtype=torch.float32), num_hist)


def transitions(frames: torch.Tensor, actions: torch.Tensor, num_hist: int):
    """Teacher-forcing pairs of windows (frames [B, N+1, S], actions [B, N, kA]):
    z [B T, H S], a [B T, kA], target [B T, S] for the T = N - H + 1 transitions."""
    B, N1, S = frames.shape
    H = num_hist
    T = N1 - H
    z = frames[:, :N1 - 1].unfold(1, H, 1)              # [B, T, S, H]
    z = z.permute(0, 1, 3, 2).reshape(B * T, H * S)
    a = actions[:, H - 1:].reshape(B * T, actions.shape[-1])
    target = frames[:, H:].reshape(B * T, S)
    return z, a, target


# ----------------------------------------------------------------------------- trainer
class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg.validate()
        self.rank, self.world = _dist_info()
        if cfg.batch % self.world:
            raise ConfigError(f"config field 'batch': must be divisible by the number of processes "
                              f"({self.world}) (got {cfg.batch})")
        self.out = cfg.out_dir
        self.env_name = make_name(cfg.env)
        self.data = self._load_data()
        meta = self.data.metadata
        if make_name(meta["env"]) != self.env_name:
            raise ConfigError(f"config field 'env': {cfg.env!r} but the data file holds {meta['env']!r}")
        self.k = cfg.frameskip or int(meta["frameskip"])
        E, L = self.data.actions.shape[:2]
        if E < 2:
            raise ConfigError(f"config field 'episodes': need at least 2 episodes (train and held out), got {E}")
        n_val = max(1, int(round(cfg.val_fraction * E)))
        self.train_eps, self.val_eps = np.arange(E - n_val), np.arange(E - n_val, E)
        self.frames_per_window = cfg.num_hist + cfg.window
        span = (self.frames_per_window - 1) * self.k
        if span > L:
            raise ConfigError(f"config field 'window': (num_hist + window - 1) * frameskip = {span} env steps "
                              f"exceed the episode length {L}")
        self.norm = make_normalizer(self.data, self.train_eps, self.k, cfg.num_hist)
        self.train_frames, self.train_actions = windows_of(self.data, self.train_eps, self.frames_per_window,
                                                           self.k, cfg.stride)
        val_frames, val_actions = windows_of(self.data, self.val_eps, self.frames_per_window, self.k, cfg.stride)
        if len(val_frames) > cfg.max_val_windows:
            pick = torch.randperm(len(val_frames), generator=torch.Generator().manual_seed(cfg.seed))
            pick = pick[:cfg.max_val_windows]
            val_frames, val_actions = val_frames[pick], val_actions[pick]
        self.val = (val_frames, val_actions)
        self.S = self.data.states.shape[-1]
        self.A = self.data.actions.shape[-1] * self.k

        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.device = _device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.module = build_model(cfg.arch, self.S, self.A, cfg.num_hist, self.norm, widths=cfg.widths,
                                  activation=cfg.activation, d_model=cfg.d_model, heads=cfg.heads,
                                  layers=cfg.layers).to(self.device)
        self.norm = self.norm.to(self.device)
        self.model = self.module
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.module, device_ids=ids)
        self.optimizer = torch.optim.AdamW(self.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(cfg.seed + 1)
        self.awm = AdversarialPerturbation(cfg.awm_state_factor, cfg.awm_action_factor, cfg.awm_steps,
                                           cfg.awm_alpha, cfg.awm_std)
        self.cache = ReplayCache(cfg.owm_capacity)
        self.owm = None
        if cfg.method == "online":
            from .envs import make
            kwargs = dict(meta.get("env_kwargs") or {})
            if self.k != int(meta["frameskip"]):
                kwargs["frameskip"] = self.k
            self.owm = OnlineWorldModeling(make(meta["env"], **kwargs), cfg.num_hist, self.norm.state_std,
                                           cfg.owm_iters, cfg.owm_lr, cfg.owm_noise, cfg.owm_init_std,
                                           cfg.owm_backend)
        self.epoch = 0
        self.step = 0
        self.history = []

    # data ---------------------------------------------------------------------
    def _load_data(self) -> Trajectories:
        cfg = self.cfg
        if cfg.data is not None:
            if not Path(cfg.data).exists():
                raise ConfigError(f"config field 'data': no such file {cfg.data!r}")
            return Trajectories.load(cfg.data)
        path = self.out / "data.npz"
        episodes, length = DEFAULT_SIZES.get(self.env_name, (100, 100))
        episodes, length = cfg.episodes or episodes, cfg.length or length
        if self.rank == 0 and not path.exists():
            self.out.mkdir(parents=True, exist_ok=True)
            collect(cfg.env, episodes, length, cfg.policy, cfg.seed, progress=cfg.progress).save(path)
        _barrier()
        data = Trajectories.load(path)
        if data.actions.shape[:2] != (episodes, length):
            raise ConfigError(f"config field 'episodes'/'length': {path} holds {data.actions.shape[:2]} "
                              f"but the config asks for {(episodes, length)}; delete it or pass --data")
        return data

    def _normalised(self, frames, actions):
        frames, actions = frames.to(self.device), actions.to(self.device)
        return self.norm.state(frames), self.norm.action(actions)

    # one update -----------------------------------------------------------------
    def _predict(self, model):
        S = self.S
        return lambda z, a: model(z, a)[..., -S:]

    def _update(self, z, a, target, denominator):
        """One optimizer step on sum-of-squares / denominator (x world size: DDP averages)."""
        pred = self.model(z, a)[..., -self.S:]
        sse = ((pred - target) ** 2).sum()
        loss = sse / denominator
        self.optimizer.zero_grad(set_to_none=True)
        (loss * self.world).backward()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        return loss.detach()

    def _adversarial(self, z, a, target, rows, global_rows):
        """Perturbed (z, a) for the local rows [rows] of a global batch of global_rows rows."""
        stats = torch.cat([z.sum(0), (z * z).sum(0), a.sum(0), (a * a).sum(0), z.new_tensor([float(len(z))])])
        stats = _all_reduce(stats.detach().double())
        D, A = z.shape[1], a.shape[1]
        n = stats[-1]
        var = lambda s, ss: ((ss - s * s / n) / max(float(n) - 1, 1.0)).clamp_min(0)
        z_std = var(stats[:D], stats[D:2 * D]).sqrt().float()
        a_std = var(stats[2 * D:2 * D + A], stats[2 * D + A:2 * D + 2 * A]).sqrt().float()
        eps_z, eps_a = self.awm.epsilons(z_std, a_std)
        start_z = torch.rand(global_rows, D, generator=self.generator) * 2 - 1
        start_a = torch.rand(global_rows, A, generator=self.generator) * 2 - 1
        return self.awm.perturb(self._predict(self.module), z, a, target, eps_z, eps_a,
                                start_z[rows].to(self.device), start_a[rows].to(self.device))

    def _planning_model(self):
        if self.cfg.arch == "mlp":
            return export_mlp(self.module, self.norm).to(device=self.device), None
        return RawUnits(self.module, self.norm).eval(), self.A

    def _online(self, bucket, frames, actions):
        """Extra updates on the cached entries of this bucket, then a new corrected entry."""
        for entry in self.cache.entries(bucket):
            z, a, target = transitions(*self._normalised(entry["frames"], entry["actions"]), self.cfg.num_hist)
            # local mean (DDP averages ranks); an empty entry still takes part (a zero update) so that
            # every rank runs the same number of backward passes
            self._update(z, a, target, max(target.numel(), 1) * self.world)
        if bucket % self.cfg.owm_every == 0:
            n = len(frames) if self.cfg.owm_windows is None else min(self.cfg.owm_windows, len(frames))
            model, action_dim = self._planning_model()
            seed = (self.cfg.seed * 1_000_003 + self.step * self.world + self.rank) % 2**32
            new_frames, new_actions = self.owm.correct(model, frames[:n], actions[:n], seed, action_dim)
            self.cache.add(bucket, new_frames, new_actions)

    # epochs ---------------------------------------------------------------------
    def _batches(self, epoch):
        n = len(self.train_frames)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.cfg.seed * 10_007 + epoch))
        batches = [order[i:i + self.cfg.batch] for i in range(0, n, self.cfg.batch)]
        return [b for b in batches if len(b) >= self.world]

    def train_epoch(self, epoch):
        cfg, H = self.cfg, self.cfg.num_hist
        self.module.train()
        batches = self._batches(epoch)
        total = torch.zeros(2, dtype=torch.float64)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.progress or self.rank != 0,
                   leave=False, unit="batch")
        for i, batch in enumerate(bar):
            chunks = batch.tensor_split(self.world)
            start = sum(len(c) for c in chunks[:self.rank])
            local = chunks[self.rank]
            raw_frames, raw_actions = self.train_frames[local], self.train_actions[local]
            z, a, target = transitions(*self._normalised(raw_frames, raw_actions), H)
            T = cfg.window
            denominator = len(batch) * T * self.S
            if cfg.method == "adversarial":
                z, a = self._adversarial(z, a, target, slice(start * T, (start + len(local)) * T), len(batch) * T)
            loss = self._update(z, a, target, denominator)
            total[0] += float(loss)
            total[1] += 1
            if cfg.method == "online":
                self._online(i, raw_frames, raw_actions)
            self.step += 1
            if self.rank == 0 and cfg.progress:
                bar.set_postfix(loss=f"{float(loss) * self.world:.4g}")
        total[0] = _all_reduce(total[0:1].clone())[0]
        return float(total[0] / max(float(total[1]), 1.0))

    @torch.no_grad()
    def evaluate(self, frames=None, actions=None):
        """Held-out loss: MSE of the newest frame in normalised units over all transitions."""
        frames, actions = (self.val if frames is None else (frames, actions))
        self.module.eval()
        sse, count = 0.0, 0
        for i in range(0, len(frames), 2048):
            z, a, target = transitions(*self._normalised(frames[i:i + 2048], actions[i:i + 2048]), self.cfg.num_hist)
            sse += float(((self.module(z, a)[..., -self.S:] - target) ** 2).sum())
            count += target.numel()
        self.module.train()
        return sse / max(count, 1)

    # checkpoints --------------------------------------------------------------
    def _gather_caches(self):
        state = self.cache.state_dict()
        if self.world == 1:
            return [state]
        gathered = [None] * self.world
        dist.all_gather_object(gathered, state)
        return gathered

    def state_dict(self):
        return {"version": CHECKPOINT_VERSION, "config": dataclasses.asdict(self.cfg), "epoch": self.epoch,
                "step": self.step, "world_size": self.world, "model": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(), "normalizer": self.norm.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "awm": self.awm.state_dict(), "caches": self._gather_caches(), "history": self.history}

    def save_checkpoint(self):
        state = self.state_dict()   # collective: every rank takes part
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            tmp = self.out / "checkpoint.pt.tmp"
            torch.save(state, tmp)
            os.replace(tmp, self.out / "checkpoint.pt")

    def load_checkpoint(self, path):
        state = torch.load(path, weights_only=True, map_location="cpu")
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: unsupported checkpoint version {state.get('version')!r}")
        for name in ("arch", "widths", "activation", "num_hist", "window", "env", "method"):
            if state["config"].get(name) != getattr(self.cfg, name):
                raise ConfigError(f"config field {name!r}: the checkpoint {path} was made with "
                                  f"{state['config'].get(name)!r}, the config says {getattr(self.cfg, name)!r}")
        if len(state["caches"]) != self.world:
            raise ConfigError(f"the checkpoint {path} was written by {len(state['caches'])} processes; "
                              f"resume it with the same number (this run has {self.world})")
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.norm.load_state_dict(state["normalizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.awm.load_state_dict(state["awm"])
        self.cache.load_state_dict(state["caches"][self.rank])
        self.epoch, self.step, self.history = state["epoch"], state["step"], list(state["history"])

    def save_outputs(self):
        if self.rank != 0:
            return
        torch.save({"config": dataclasses.asdict(self.cfg), "model": self.module.state_dict(),
                    "normalizer": self.norm.state_dict(), "frame_dim": self.S, "action_dim": self.A},
                   self.out / "model.pt")
        if self.cfg.arch == "mlp":
            export_mlp(self.module, self.norm).save(self.out / "model.wmk")

    # the run --------------------------------------------------------------------
    def run(self):
        cfg = self.cfg
        checkpoint = self.out / "checkpoint.pt"
        if cfg.resume and checkpoint.exists():
            self.load_checkpoint(checkpoint)
        log_path = self.out / "log.csv"
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            if not (cfg.resume and log_path.exists()):
                with open(log_path, "w", newline="") as f:
                    csv.writer(f).writerow(LOG_COLUMNS)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        while self.epoch < cfg.epochs:
            started, cpu_started = time.perf_counter(), time.process_time()
            train_loss = self.train_epoch(self.epoch)
            val_loss = self.evaluate()
            self.epoch += 1
            row = {"epoch": self.epoch, "step": self.step, "train_loss": train_loss, "val_loss": val_loss,
                   "cache_entries": len(self.cache) * self.world,
                   "owm_dropped": 0 if self.owm is None else self.owm.dropped, "seconds": time.perf_counter() - started,
                   "cpu_seconds": time.process_time() - cpu_started}
            self.history.append(row)
            if self.rank == 0:
                with open(log_path, "a", newline="") as f:
                    csv.writer(f).writerow([row[k] for k in LOG_COLUMNS])
                if cfg.progress:
                    tqdm.write(f"epoch {self.epoch}: train {train_loss:.5f}  held-out {val_loss:.5f}  "
                               f"({row['seconds']:.1f} s)")
            if self.epoch % cfg.save_every == 0 or self.epoch == cfg.epochs:
                self.save_checkpoint()
        self.save_outputs()
        return self.history


def load_trained(path):
    """(module in normalised units, Normalizer, config dict) from a ``model.pt``."""
    state = torch.load(path, weights_only=True, map_location="cpu")
    cfg = state["config"]
    n = state["normalizer"]
    norm = Normalizer(n["state_mean"], n["state_std"], n["action_mean"], n["action_std"], n["delta_mean"],
                      n["delta_std"], cfg["num_hist"])
    module = build_model(cfg["arch"], state["frame_dim"], state["action_dim"], cfg["num_hist"], norm,
                         widths=cfg["widths"], activation=cfg["activation"], d_model=cfg["d_model"],
                         heads=cfg["heads"], layers=cfg["layers"])
    module.load_state_dict(state["model"])
    return module, norm, cfg


def train(cfg: TrainConfig):
    """Run a training (joining torchrun's process group if there is one); returns the epoch log."""
    created = _init_distributed(_device(cfg.validate().device).type == "cuda")
    try:
        return Trainer(cfg).run()
    finally:
        if created:
            dist.destroy_process_group()


def main(argv=None):
    train(parse_args(argv))


if __name__ == "__main__":
    main()
