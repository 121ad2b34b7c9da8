"""The Trainer: teacher-forcing training of one world model with ``offline``, ``online`` (OWM) or
``adversarial`` (AWM) updates; ``python -m training.train`` runs it from the command line.

Data. ``cfg.data`` (``python -m training.data collect``) or, without it, a dataset of
``episodes`` x ``length`` (default: ``training.data.default_size``) collected once into
``<out>/data.npz``. The last ``val_fraction`` of the episodes are held out. Training windows
hold ``num_hist + window`` frames at ``frameskip`` (``training.data``'s alignment): ``window``
consecutive transitions, each seeing the ``num_hist`` frames up to its own. Each window is also
one OWM planning problem of horizon ``window``.

Units and loss. Statistics of the training episodes (``training.data.make_normalizer``: states,
planner actions, and the mean and std of the frame change over ``frameskip`` steps) normalise
states and actions; the model works in those units and the loss is the MSE of the predicted newest
frame in normalised state units, averaged over the window's transitions (teacher forcing: every
transition starts from true frames).

Methods. offline: one update per batch on the data. adversarial (AWM): the same update on the
FGSM-perturbed batch only (``training.synthesis.AdversarialPerturbation``), with one radius per
input part. online (OWM): at every ``owm_every``-th batch i, the batch's windows (the first
``owm_windows`` of them if set) are planned on with the current model and replayed in the
simulator, and the corrected windows enter replay bucket i // owm_every; every batch i then does
one extra update per entry of bucket i // owm_every (this epoch's and every earlier one's).
``init`` starts from a trained ``model.pt`` (its weights and normaliser): fine-tuning an offline
model with OWM or AWM, usually at a lower ``lr``.

Outputs in ``<out>`` (a folder holding a run is refused unless ``resume`` continues it or
``overwrite`` replaces it): ``log.csv`` (epoch, step, train_loss, val_loss, cache_entries,
owm_dropped: rank 0's OWM windows whose start state the env refused since the process started,
seconds, cpu_seconds of this process), ``config.json`` (with the frameskip used),
``checkpoint.pt`` (model, optimizer, epoch, replay caches, RNG state; ``torch.save`` of tensors
and plain containers, loaded with ``weights_only=True``; ``resume`` continues from it),
``model.pt`` (trained module, normaliser and config; ``load_trained``), and for ``arch=mlp``
``model.wmk``: the ``wmkernels.MLPWorldModel`` with normalisation folded in (raw state and raw
planner action in, raw next state out), carrying its metadata (``training.model_info``). With
``num_hist`` > 1 the state is the stacked history (oldest frame first) and the export's skip is
the frame shift matrix. Rank 0 prints the folder, one line per epoch and the files written.

Distributed. In torchrun's process group (``training.distributed``) each global batch of
``batch`` windows is split across ranks; gradients are averaged by DDP with per-rank weights that
make the update equal to the single-process one; AWM's std and random start are drawn for the
global batch. Only rank 0 writes files.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .config import ConfigError, TrainConfig
from .data import Trajectories, collect, default_size, make_name, make_normalizer, transitions, windows_of
from .devices import resolve_device
from .distributed import all_reduce_sum, barrier, gather_objects, local_device, rank_and_world
from .model_info import model_metadata
from .models import Normalizer, RawUnits, build_model, export_mlp
from .progress import progress
from .synthesis import AdversarialPerturbation, OnlineWorldModeling, ReplayCache, row_spread

CHECKPOINT_VERSION = 1
LOG_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "cache_entries", "owm_dropped", "seconds", "cpu_seconds")
RUN_FILES = ("log.csv", "checkpoint.pt", "model.pt", "model.wmk", "config.json")
"""What a run writes into its folder (besides a collected ``data.npz``); ``--overwrite`` removes them."""


def training_device(name: str) -> torch.device:
    """The device of config field ``device`` for this process (a bare cuda is ``cuda:LOCAL_RANK``)."""
    return local_device(resolve_device(name, "config field 'device'", ConfigError))


class Trainer:
    """One training run of ``cfg``: data, model, optimizer and the methods' state; ``run`` trains
    the remaining epochs and writes the outputs."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg.validate()
        self.rank, self.world = rank_and_world()
        if cfg.batch % self.world:
            raise ConfigError(f"config field 'batch': must be divisible by the number of processes "
                              f"({self.world}) (got {cfg.batch})")
        self.out = cfg.out_dir
        self._check_out_dir()
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
        self.device = training_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.module = build_model(cfg.arch, self.S, self.A, cfg.num_hist, self.norm, widths=cfg.widths,
                                  activation=cfg.activation, d_model=cfg.d_model, heads=cfg.heads,
                                  layers=cfg.layers)
        if cfg.init is not None:
            self._start_from(cfg.init)
        self.module = self.module.to(self.device)
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
            self.owm = OnlineWorldModeling(self._make_env(), cfg.num_hist, self.norm.state_std,
                                           cfg.owm_iters, cfg.owm_lr, cfg.owm_noise, cfg.owm_init_std,
                                           cfg.owm_backend)
        self.epoch = 0
        self.step = 0
        self.history = []

    def _start_from(self, path) -> None:
        """Weights and normalisation of the trained ``model.pt`` at ``path`` (config field ``init``),
        which must have this run's architecture, history and frame and action sizes."""
        if not Path(path).exists():
            raise ConfigError(f"config field 'init': no such file {path!r}")
        module, norm, cfg = load_trained(path)
        for name in ("arch", "widths", "activation", "num_hist", "d_model", "heads", "layers"):
            if cfg.get(name) != getattr(self.cfg, name):
                raise ConfigError(f"config field 'init': {path} was trained with {name}={cfg.get(name)!r}, "
                                  f"this run has {getattr(self.cfg, name)!r}")
        sizes = (norm.state_mean.numel(), norm.action_mean.numel())
        if sizes != (self.S, self.A):
            raise ConfigError(f"config field 'init': {path} has frame and action sizes {sizes}, "
                              f"this run's data has {(self.S, self.A)}")
        self.module, self.norm = module, norm

    def _check_out_dir(self) -> None:
        """Refuse a folder that holds a run unless ``resume`` or ``overwrite`` says what to do with it."""
        found = [name for name in RUN_FILES if (self.out / name).exists()]
        if found and not (self.cfg.resume or self.cfg.overwrite):
            raise ConfigError(f"config field 'out': {self.out} already holds a training run ({', '.join(found)}); "
                              f"pass --resume to continue it, --overwrite to replace it, or another --out")
        barrier()  # every rank has looked before rank 0 writes anything

    # data ---------------------------------------------------------------------
    def _load_data(self) -> Trajectories:
        cfg = self.cfg
        if cfg.data is not None:
            if not Path(cfg.data).exists():
                raise ConfigError(f"config field 'data': no such file {cfg.data!r}")
            return Trajectories.load(cfg.data)
        path = self.out / "data.npz"
        episodes, length = default_size(self.env_name)
        episodes, length = cfg.episodes or episodes, cfg.length or length
        if self.rank == 0 and not path.exists():
            self.out.mkdir(parents=True, exist_ok=True)
            collect(cfg.env, episodes, length, cfg.policy, cfg.seed, progress=cfg.progress).save(path)
        barrier()
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
        """Perturbed (z, a) for the local rows [rows] of a global batch of global_rows rows; the
        radii are those of the global batch (``training.synthesis.row_spread``)."""
        sums = torch.stack([row_spread(z).sum(), row_spread(a).sum(), z.new_tensor(float(len(z)))])
        sums = all_reduce_sum(sums.detach().double())
        eps_z, eps_a = self.awm.epsilons((sums[0] / sums[2]).float(), (sums[1] / sums[2]).float())
        D, A = z.shape[1], a.shape[1]
        start_z = torch.rand(global_rows, D, generator=self.generator) * 2 - 1
        start_a = torch.rand(global_rows, A, generator=self.generator) * 2 - 1
        return self.awm.perturb(self._predict(self.module), z, a, target, eps_z, eps_a,
                                start_z[rows].to(self.device), start_a[rows].to(self.device))

    def _planning_model(self):
        if self.cfg.arch == "mlp":
            return export_mlp(self.module, self.norm).to(device=self.device), None
        return RawUnits(self.module, self.norm).eval(), self.A

    def _online(self, batch, frames, actions):
        """Batch ``batch`` of an epoch: every ``owm_every`` batches a new corrected entry in bucket
        batch // owm_every, then one extra update per entry of that bucket."""
        bucket = batch // self.cfg.owm_every
        if batch % self.cfg.owm_every == 0:
            n = len(frames) if self.cfg.owm_windows is None else min(self.cfg.owm_windows, len(frames))
            model, action_dim = self._planning_model()
            seed = (self.cfg.seed * 1_000_003 + self.step * self.world + self.rank) % 2**32
            new_frames, new_actions = self.owm.correct(model, frames[:n], actions[:n], seed, action_dim)
            self.cache.add(bucket, new_frames, new_actions)
        for entry in self.cache.entries(bucket):
            z, a, target = transitions(*self._normalised(entry["frames"], entry["actions"]), self.cfg.num_hist)
            # local mean (DDP averages ranks); an empty entry still takes part (a zero update) so that
            # every rank runs the same number of backward passes
            self._update(z, a, target, max(target.numel(), 1) * self.world)

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
        bar = progress(batches, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress and self.rank == 0,
                       unit="batch", leave=False)
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
        total[0] = all_reduce_sum(total[0:1].clone())[0]
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
    def state_dict(self):
        return {"version": CHECKPOINT_VERSION, "config": dataclasses.asdict(self.cfg), "epoch": self.epoch,
                "step": self.step, "world_size": self.world, "model": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(), "normalizer": self.norm.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "awm": self.awm.state_dict(), "caches": gather_objects(self.cache.state_dict()), "history": self.history}

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

    def saved_config(self) -> dict:
        """The config as ``config.json`` holds it: with the frameskip the run used."""
        return dataclasses.asdict(dataclasses.replace(self.cfg, frameskip=self.k))

    def metadata(self) -> dict:
        """The model's metadata (``training.model_info``): env, state layout, frameskip, action
        bounds, normalisation, success spec and config."""
        env = self._make_env()
        try:
            return model_metadata(env, self._env_kwargs(), self.saved_config(), self.norm, self.k)
        finally:
            env.close()

    def _env_kwargs(self) -> dict:
        """The env's arguments: the data's, with this run's frameskip."""
        kwargs = dict(self.data.metadata.get("env_kwargs") or {})
        if self.k != int(self.data.metadata["frameskip"]):
            kwargs["frameskip"] = self.k
        return kwargs

    def _make_env(self):
        from .envs import make

        return make(self.data.metadata["env"], **self._env_kwargs())

    def save_outputs(self):
        """``model.pt`` and, for the MLP, ``model.wmk`` carrying its metadata."""
        if self.rank != 0:
            return
        torch.save({"config": self.saved_config(), "model": self.module.state_dict(),
                    "normalizer": self.norm.state_dict(), "frame_dim": self.S, "action_dim": self.A},
                   self.out / "model.pt")
        if self.cfg.arch == "mlp":
            export_mlp(self.module, self.norm, metadata=self.metadata()).save(self.out / "model.wmk")

    # the run --------------------------------------------------------------------
    def run(self):
        cfg = self.cfg
        checkpoint = self.out / "checkpoint.pt"
        if cfg.resume and checkpoint.exists():
            self.load_checkpoint(checkpoint)
        log_path = self.out / "log.csv"
        if self.rank == 0:
            if cfg.overwrite:
                for name in RUN_FILES:
                    (self.out / name).unlink(missing_ok=True)
            self.out.mkdir(parents=True, exist_ok=True)
            if not (cfg.resume and log_path.exists()):
                with open(log_path, "w", newline="") as f:
                    csv.writer(f).writerow(LOG_COLUMNS)
            (self.out / "config.json").write_text(json.dumps(self.saved_config(), indent=2))
            print(f"training {self.env_name} ({cfg.method}) into {self.out}: {len(self.train_frames)} windows of "
                  f"{len(self.train_eps)} episodes, {len(self.val[0])} held-out windows, epochs {self.epoch + 1}"
                  f"-{cfg.epochs}", flush=True)
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
                print(f"epoch {self.epoch}/{cfg.epochs}: train {train_loss:.5f}  held-out {val_loss:.5f}  "
                      f"({row['seconds']:.1f} s)", flush=True)
            if self.epoch % cfg.save_every == 0 or self.epoch == cfg.epochs:
                self.save_checkpoint()
        self.save_outputs()
        if self.rank == 0:
            written = ["model.wmk"] if cfg.arch == "mlp" else []
            print(f"wrote {', '.join(str(self.out / n) for n in written + ['model.pt', 'log.csv'])}", flush=True)
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

