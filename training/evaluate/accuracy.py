"""Model accuracy: does the model know where the true actions lead?

For held-out episodes of a dataset (the last ``val_fraction`` of its episodes, as training held
them out), every window of ``num_hist + steps`` frames at the model's frameskip is rolled through
the model open-loop: from the window's first ``num_hist`` true frames under its true planner
actions for ``steps`` planner steps. The predicted newest frame passes if ``env.is_success(pred,
true)`` holds against the true frame it should match.

The share that passes measures the ceiling a planner meets with this model on tasks ``steps``
planner steps long: even the true actions, which solve such a task by construction, are predicted
to land within the tolerance of where they really land only that often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import Trajectories, windows_of
from .errors import EvaluationError
from .models import LoadedModel
from .stats import wilson_interval


@dataclass
class Accuracy:
    """windows: held-out windows rolled; within: those whose predicted end passes the success test;
    steps: planner steps per window; dims: the goal dims; median_error [len(dims)]: the median
    |predicted - true| on each of them."""

    windows: int
    within: int
    steps: int
    dims: tuple
    median_error: np.ndarray

    @property
    def share(self) -> float:
        return self.within / self.windows

    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.within, self.windows)


def held_out_episodes(data: Trajectories, val_fraction: float) -> np.ndarray:
    """The last ``max(1, round(val_fraction * E))`` episodes: those a training run holds out."""
    E = data.actions.shape[0]
    return np.arange(E - max(1, int(round(val_fraction * E))), E)


def rollout_accuracy(loaded: LoadedModel, env, data: Trajectories, steps: int = 5, val_fraction: float = 0.1,
                     stride: int = 5, max_windows: int = 4096, dims=()) -> Accuracy:
    """``Accuracy`` of ``loaded`` on ``data``'s held-out episodes (the module docstring); windows start
    every ``stride`` env steps, at most ``max_windows`` of them (the first ones); ``dims``: the goal
    dims whose median errors are reported."""
    if steps < 1:
        raise EvaluationError(f"steps must be >= 1, got {steps}")
    if data.states.shape[-1] != env.state_dim:
        raise EvaluationError(f"the data's states have {data.states.shape[-1]} dims, {env.name}'s {env.state_dim}")
    H, k, model = loaded.num_hist, loaded.frameskip, loaded.model
    span = (H + steps - 1) * k
    if span > data.actions.shape[1]:
        raise EvaluationError(f"{steps} planner steps with num_hist {H} span {span} env steps, more than the "
                              f"data's episodes ({data.actions.shape[1]})")
    frames, actions = windows_of(data, held_out_episodes(data, val_fraction), H + steps, k, stride)
    frames, actions = frames[:max_windows].double(), actions[:max_windows].double()
    W, S = frames.shape[0], frames.shape[-1]
    z = frames[:, :H].reshape(W, H * S).to(model.dtype)
    with torch.no_grad():
        for t in range(steps):
            z = model.step(z.to(model.device), actions[:, H - 1 + t].to(model.dtype).to(model.device))
    predicted = z[:, -S:].double().cpu().numpy()
    true = frames[:, -1].numpy()
    within = sum(bool(env.is_success(p, g)) for p, g in zip(predicted, true))
    dims = tuple(int(d) for d in dims)
    return Accuracy(W, within, steps, dims, np.median(np.abs(predicted - true)[:, list(dims)], axis=0))


def accuracy_table(env_name: str, results: dict) -> str:
    """Markdown: a row per model label with its windows, share within the tolerance (95% interval)
    and median error on each goal dim."""
    dims = next(iter(results.values())).dims if results else ()
    lines = [f"| {env_name} model | windows | steps | within the success tolerance % [95%] "
             f"| median error on dims {list(dims)} |", "|---|---|---|---|---|"]
    for label, acc in results.items():
        low, high = acc.interval()
        errors = ", ".join(f"{e:.3g}" for e in acc.median_error)
        lines.append(f"| {label} | {acc.windows} | {acc.steps} | {100 * acc.share:.0f} [{100 * low:.0f}, "
                     f"{100 * high:.0f}] | {errors} |")
    return "\n".join(lines)
