"""Collect trajectory datasets and load them as training windows.

File format: a ``.npz`` that loads with ``allow_pickle=False``:

- ``states``   float64 ``[E, L+1, S]``: ``states[e, t]`` is the state before
  env action ``t`` of episode ``e``; ``states[e, L]`` is the final state.
- ``actions``  float64 ``[E, L, A]``: env actions as applied (clipped to the
  env's bounds), so replaying them from ``states[e, 0]`` reproduces
  ``states[e]`` exactly.
- ``metadata`` 0-d unicode string, JSON: ``format_version``, ``env``,
  ``env_kwargs``, ``frameskip``, ``policy``, ``seed``, ``episodes``,
  ``length``, ``state_dim``, ``action_dim``. A file made by ``merge`` has
  ``seed`` the list of its parts' seeds, in episode order, and ``parts``:
  one ``{"file", "seed", "episodes"}`` per part.

Windows (``num_hist`` = H, ``frameskip`` = k): a window of episode ``e``
starting at env step ``t0`` (``t0 = 0, stride, 2 stride, ...`` with
``t0 + H k <= L``) holds, for ``i = 0..H-1``:

- ``history[i] = states[e, t0 + i k]``
- ``actions[i] = actions[e, t0 + i k : t0 + (i+1) k]`` flattened to
  ``[k A]`` (one planner action: k env actions in time order)
- ``next[i]    = states[e, t0 + (i+1) k]``, the state k env steps after
  ``history[i]`` (so ``next[i] == history[i+1]`` for ``i < H-1``).

Training works on whole windows of ``num_hist + window`` frames (``windows_of``), split into
teacher-forcing transitions (``transitions``), in units normalised by the training episodes'
statistics (``make_normalizer``).

CLI::

    python -m training.data collect --env PointMaze --out data/pointmaze.npz
    python -m training.data render data/pointmaze.npz --episode 0 --out ep0.gif
    python -m training.data merge data/a.npz data/b.npz --out data/ab.npz
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .envs import make
from .models import Normalizer
from .policies import POLICIES, make_policy
from .progress import progress as progress_bar

FORMAT_VERSION = 1

DEFAULT_SIZES = {"PointMaze": (1000, 100), "Wall": (1920, 50), "PushT": (500, 200), "Pusher": (1000, 200)}
"""(episodes, length) that collect in under two minutes each on 2 CPU cores."""

PAPER_SIZES = {"PointMaze": (2000, 100), "Wall": (1920, 50), "PushT": (18500, 200), "Pusher": (2000, 200)}
"""The paper's dataset sizes (docs/training.md). PushT's demos have length 100-300 (we use 200);
Pusher is not in the paper: PointMaze's episode count, episodes long enough for the expert to
reach the object and push it for the 50-step task gap."""

OTHER_SIZES = {False: (1000, 100), True: (2000, 100)}
"""(episodes, length) of envs not listed (``gym:<id>``), by default and with ``paper``: 1000 x 100
collects in about a minute on Reacher-v5 and Swimmer-v5."""


def default_size(env_name: str, paper: bool = False) -> tuple[int, int]:
    """(episodes, length) collected for ``env_name`` when none is given."""
    return (PAPER_SIZES if paper else DEFAULT_SIZES).get(make_name(env_name), OTHER_SIZES[paper])


DEFAULT_POLICY = {"PushT": "expert", "Pusher": "expert", "Wall": "walk"}
"""Policy used when none is given: ``random`` for envs not listed."""


@dataclass
class Trajectories:
    """A collected dataset: ``states [E, L+1, S]``, ``actions [E, L, A]`` and ``metadata``."""

    states: np.ndarray
    actions: np.ndarray
    metadata: dict

    def __post_init__(self):
        if self.states.ndim != 3 or self.actions.ndim != 3:
            raise ValueError(
                f"states must be [E, L+1, S] and actions [E, L, A], got {self.states.shape} and {self.actions.shape}"
            )
        if self.states.shape[:2] != (self.actions.shape[0], self.actions.shape[1] + 1):
            raise ValueError(f"states {self.states.shape} and actions {self.actions.shape} do not line up")

    @property
    def frameskip(self) -> int:
        return int(self.metadata["frameskip"])

    def save(self, path) -> Path:
        """Write the ``.npz`` described in the module docstring."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(
                f, states=self.states, actions=self.actions, metadata=np.array(json.dumps(self.metadata))
            )
        return path

    @classmethod
    def load(cls, path) -> Trajectories:
        """Read a file written by ``save`` (no pickled objects)."""
        with np.load(path, allow_pickle=False) as f:
            missing = {"states", "actions", "metadata"} - set(f.files)
            if missing:
                raise ValueError(f"path {path} is not a trajectory file: missing {sorted(missing)}")
            return cls(f["states"], f["actions"], json.loads(str(f["metadata"])))


def collect(
    env_name: str,
    episodes: int,
    length: int,
    policy: str | None = None,
    seed: int = 0,
    env_kwargs: dict | None = None,
    progress: bool = True,
) -> Trajectories:
    """Roll out ``episodes`` episodes of ``length`` env actions from random start states."""
    if episodes < 1 or length < 1:
        raise ValueError(f"episodes and length must be >= 1, got {episodes} and {length}")
    env_kwargs = dict(env_kwargs or {})
    env = make(env_name, **env_kwargs)
    policy = policy or DEFAULT_POLICY.get(env.name, "random")
    rng = np.random.default_rng(seed)
    make_policy(policy, env, rng)  # fail on a bad policy before collecting anything
    states = np.zeros((episodes, length + 1, env.state_dim))
    actions = np.zeros((episodes, length, env.action_dim))
    for e in progress_bar(range(episodes), f"collect {env.name}", progress, unit="ep"):
        act = make_policy(policy, env, rng)
        env.set_state(env.sample_start(rng))
        states[e, 0] = env.get_state()
        for t in range(length):
            actions[e, t] = env.clip_action(act(states[e, t]))
            states[e, t + 1] = env.step_env(actions[e, t])
    metadata = {
        "format_version": FORMAT_VERSION,
        "env": env.name,
        "env_kwargs": env_kwargs,
        "frameskip": env.frameskip,
        "policy": policy,
        "seed": seed,
        "episodes": episodes,
        "length": length,
        "state_dim": env.state_dim,
        "action_dim": env.action_dim,
    }
    env.close()
    return Trajectories(states, actions, metadata)


MERGE_KEYS = ("format_version", "env", "env_kwargs", "frameskip", "policy", "length", "state_dim", "action_dim")
"""Metadata that every part of a merged file must share."""


def merge(parts: list[Trajectories], names: list[str]) -> Trajectories:
    """The episodes of ``parts`` in the given order, in one dataset; ``names[i]`` names part i.

    Training holds out the last episodes (``val_fraction``), so the last part supplies them.
    """
    if len(parts) < 2 or len(names) != len(parts):
        raise ValueError(f"merge needs two or more parts, each with a name; got {len(parts)} parts, {len(names)} names")
    first = parts[0].metadata
    for name, part in zip(names[1:], parts[1:]):
        differ = [k for k in MERGE_KEYS if part.metadata.get(k) != first.get(k)]
        if differ:
            shown = ", ".join(f"{k} {part.metadata.get(k)!r} (first part: {first.get(k)!r})" for k in differ)
            raise ValueError(f"part {name} does not match the first part {names[0]}: {shown}")
    pieces = [piece for name, part in zip(names, parts) for piece in _pieces(name, part)]
    metadata = {k: first[k] for k in MERGE_KEYS}
    metadata.update(
        seed=[piece["seed"] for piece in pieces], episodes=sum(piece["episodes"] for piece in pieces), parts=pieces
    )
    states = np.concatenate([part.states for part in parts])
    actions = np.concatenate([part.actions for part in parts])
    return Trajectories(states, actions, metadata)


def _pieces(name: str, part: Trajectories) -> list[dict]:
    """The ``parts`` entries of ``part``: its own, if it was merged itself."""
    if "parts" in part.metadata:
        return list(part.metadata["parts"])
    return [dict(file=name, seed=part.metadata["seed"], episodes=int(part.states.shape[0]))]


class TrajectoryDataset(torch.utils.data.Dataset):
    """Windows ``(history [H, S], actions [H, k A], next [H, S])`` as float32 tensors.

    ``data`` is a ``Trajectories`` or a path; ``frameskip`` defaults to the
    file's; ``episodes`` (indices) selects a subset, e.g. a train/val split.
    Alignment is described in the module docstring.
    """

    def __init__(self, data, num_hist: int, frameskip: int | None = None, stride: int = 1, episodes=None):
        self.data = data if isinstance(data, Trajectories) else Trajectories.load(data)
        self.num_hist = int(num_hist)
        self.frameskip = int(frameskip or self.data.frameskip)
        if self.num_hist < 1 or self.frameskip < 1 or stride < 1:
            raise ValueError(f"num_hist, frameskip and stride must be >= 1, got {num_hist}, {frameskip}, {stride}")
        num_episodes, length = self.data.actions.shape[:2]
        span = self.num_hist * self.frameskip
        if span > length:
            raise ValueError(f"num_hist * frameskip = {span} exceeds the episode length {length}")
        episodes = np.arange(num_episodes) if episodes is None else np.asarray(episodes, dtype=int)
        starts = np.arange(0, length - span + 1, stride)
        self.index = np.stack(np.meshgrid(episodes, starts, indexing="ij"), -1).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.index)

    def window(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window ``i`` as float64 arrays ``(history [H, S], actions [H, k A], next [H, S])``."""
        e, t0 = self.index[i]
        k, h = self.frameskip, self.num_hist
        states = self.data.states[e, t0 : t0 + h * k + 1 : k]
        actions = self.data.actions[e, t0 : t0 + h * k].reshape(h, -1)
        return states[:-1], actions, states[1:]

    def __getitem__(self, i: int):
        return tuple(torch.from_numpy(x.astype(np.float32)) for x in self.window(i))


def load_windows(path, num_hist: int, frameskip: int | None = None, stride: int = 1, episodes=None):
    """All windows stacked: ``history [N, H, S]``, ``actions [N, H, k A]``, ``next [N, H, S]`` (float32)."""
    dataset = TrajectoryDataset(path, num_hist, frameskip, stride, episodes)
    parts = zip(*(dataset[i] for i in range(len(dataset))))
    return tuple(torch.stack(p) for p in parts)


def compute_stats(data, frameskip: int | None = None) -> dict[str, torch.Tensor]:
    """Mean and std (float32) of states ``[S]`` and planner actions ``[k A]``.

    Planner actions are the consecutive, non-overlapping groups of k env
    actions. A std below 1e-6 (a constant dimension) is reported as 1.
    """
    data = data if isinstance(data, Trajectories) else Trajectories.load(data)
    k = int(frameskip or data.frameskip)
    num_episodes, length, action_dim = data.actions.shape
    if length < k:
        raise ValueError(f"frameskip {k} exceeds the episode length {length}")
    states = data.states.reshape(-1, data.states.shape[-1])
    planner = data.actions[:, : length // k * k].reshape(-1, k * action_dim)

    def mean_std(x):
        std = x.std(0)
        std[std < 1e-6] = 1.0
        return torch.tensor(x.mean(0), dtype=torch.float32), torch.tensor(std, dtype=torch.float32)

    state_mean, state_std = mean_std(states)
    action_mean, action_std = mean_std(planner)
    return {"state_mean": state_mean, "state_std": state_std, "action_mean": action_mean, "action_std": action_std}


def windows_of(data: Trajectories, episodes, frames: int, frameskip: int, stride: int):
    """Raw float32 (frames [W, frames, S], actions [W, frames-1, k A]) of every window with
    ``frames`` frames at ``frameskip`` (this module's alignment, num_hist = frames - 1)."""
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


def _collect_command(args) -> None:
    episodes, length = default_size(args.env, args.paper_size)
    episodes = args.episodes or episodes
    length = args.length or length
    started = time.perf_counter()
    data = collect(args.env, episodes, length, args.policy, args.seed, progress=not args.quiet)
    path = data.save(args.out)
    print(
        f"saved {path}: {episodes} episodes x {length} steps of {data.metadata['env']} "
        f"({data.metadata['policy']} policy) in {time.perf_counter() - started:.1f} s"
    )


def _render_command(args) -> None:
    from .envs.render import render_states, save_gif, save_strip

    data = Trajectories.load(args.path)
    if not 0 <= args.episode < data.states.shape[0]:
        raise ValueError(f"episode must be in [0, {data.states.shape[0]}), got {args.episode}")
    env = make(data.metadata["env"], **data.metadata["env_kwargs"])
    frames = render_states(env, data.states[args.episode][:: args.every])
    out = save_strip(frames, args.out) if str(args.out).endswith(".png") else save_gif(frames, args.out)
    print(f"saved {out}: {len(frames)} frames")


def _merge_command(args) -> None:
    paths = [Path(p) for p in args.paths]
    data = merge([Trajectories.load(p) for p in paths], [p.name for p in paths])
    path = data.save(args.out)
    print(f"saved {path}: {data.metadata['episodes']} episodes of {data.metadata['env']} from {len(paths)} files")


def make_name(name: str) -> str:
    """The canonical spelling of a built-in env name (others are returned unchanged)."""
    from .envs import ENV_NAMES

    return next((known for known in ENV_NAMES if known.lower() == name.lower()), name)


def file_stem(name: str) -> str:
    """``name`` safe in a file name: each run of characters other than letters, digits, ``.``, ``_``
    and ``-`` becomes ``-`` (``gym:Reacher-v5`` -> ``gym-Reacher-v5``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("collect", help="roll out a policy and save a trajectory file")
    c.add_argument("--env", required=True, help="PointMaze, PushT, Wall, Pusher or gym:<id>")
    c.add_argument("--episodes", type=int, help="number of episodes (default: per-env default size)")
    c.add_argument("--length", type=int, help="env actions per episode (default: per-env default size)")
    c.add_argument("--policy", choices=POLICIES, help="default: expert for PushT and Pusher, walk for Wall, random otherwise")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", required=True, help="output .npz path")
    c.add_argument("--paper-size", action="store_true", help="use the paper's dataset sizes (docs/training.md)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(run=_collect_command)
    r = commands.add_parser("render", help="save one episode as a GIF (or a PNG strip if --out ends in .png)")
    r.add_argument("path", help="trajectory .npz")
    r.add_argument("--episode", type=int, default=0)
    r.add_argument("--every", type=int, default=1, help="keep every n-th state")
    r.add_argument("--out", required=True)
    r.set_defaults(run=_render_command)
    m = commands.add_parser("merge", help="concatenate trajectory files of one env; the last supplies the held-out episodes")
    m.add_argument("paths", nargs="+", help="trajectory .npz files, in episode order")
    m.add_argument("--out", required=True, help="output .npz path")
    m.set_defaults(run=_merge_command)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
