"""Planning in normalised action units (the paper's released planners work in them).

The planner's variable is u = (a - action_mean) / action_std per planner-action dimension [k A],
with the training data's statistics; the environment gets a = action_mean + action_std * u. A
planner's initial std, learning rate, noise and CEM std are then in units of the data's spread in
each dimension, not in the raw units of the env, whose spread differs between envs and between an
expert's and a random policy's data.

For an ``MLPWorldModel`` the change of variable folds into the first layer: with x = [z, a] and
W_1 = [W_z; W_a],

    a W_a = (mean + std * u) W_a = u (diag(std) W_a) + mean W_a,

so W_a becomes diag(std) W_a and b_1 gains mean W_a (computed in float64). Bounds map the same
way: lo_u = (lo - mean) / std, hi_u = (hi - mean) / std.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import wmkernels

from .errors import EvaluationError

ACTION_UNITS = ("normalised", "raw")


@dataclass(frozen=True)
class ActionScale:
    """a = mean + std * u for planner actions; mean, std [k A] float64, std > 0."""

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self):
        mean, std = (np.asarray(v, dtype=np.float64) for v in (self.mean, self.std))
        if mean.ndim != 1 or mean.shape != std.shape:
            raise EvaluationError(f"action mean and std must be vectors of one length, got {mean.shape} and {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise EvaluationError("action mean must be finite and action std finite and positive")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def model(self, model: wmkernels.MLPWorldModel) -> wmkernels.MLPWorldModel:
        """``model`` taking u instead of a (the module docstring's folding)."""
        if model.action_dim != self.mean.shape[0]:
            raise EvaluationError(f"the action statistics have {self.mean.shape[0]} dims, the model's action "
                                  f"has {model.action_dim}")
        D = model.state_dim
        w1 = model.weights[0].double()
        mean = torch.as_tensor(self.mean, device=w1.device)
        std = torch.as_tensor(self.std, device=w1.device)
        first = torch.cat([w1[:D], w1[D:] * std[:, None]])
        bias = model.biases[0].double() + mean @ w1[D:]
        dtype = model.dtype
        weights = [first.to(dtype)] + [w.clone() for w in model.weights[1:]]
        biases = [bias.to(dtype)] + [b.clone() for b in model.biases[1:]]
        skip = None if model.skip is None else model.skip.clone()
        return wmkernels.MLPWorldModel(weights, biases, model.activation, skip, model.metadata)

    def bounds(self, low, high) -> tuple[np.ndarray, np.ndarray]:
        """Planner-action bounds [k A] in u."""
        return (np.asarray(low) - self.mean) / self.std, (np.asarray(high) - self.mean) / self.std

    def to_env(self, u: np.ndarray, low=None, high=None) -> np.ndarray:
        """Raw actions a [..., k A] of u [..., k A]; clipped to [low, high] [k A] when given (a plan at
        a float32 bound maps back a rounding error beyond the env's)."""
        a = self.mean + self.std * u
        return a if low is None else np.clip(a, low, high)
