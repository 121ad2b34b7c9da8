"""Gradient-based planning: projected Adam (or SGD) on the action sequence, through the model."""
import torch

from .. import _checks, _random, ops
from .base import Planner


class GradientPlanner(Planner):
    """GBP with `samples` candidates (restarts) per problem; the lowest final cost wins.

    init for plan(): None (random normal * init_std, clamped), [P, T, A] (becomes
    candidate 0, the others random) or [P, samples, T, A].

    lr: Adam's steps are about lr per action element whatever the cost's scale; SGD's are lr times
    the gradient, so its lr depends on the cost's units: 1.0 suits a cost in normalised units
    (Objective q = 1 / std^2 of the data), the default 0.2 is Adam's.
    """

    def __init__(self, model, horizon=5, objective=None, iters=100, lr=0.2, samples=1,
                 optimizer="adam", noise=0.003, seed=0, backend="auto", init_std=1.0,
                 betas=(0.9, 0.999), eps=1e-8, action_dim=None, timed=True):
        super().__init__(model, horizon, objective, seed, backend, action_dim, timed)
        self.iters = _checks.positive_int("iters", iters)
        self.lr = _checks.finite_float("lr", lr, minimum=0.0, strict=True)
        self.samples = _checks.positive_int("samples", samples)
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self.optimizer = optimizer
        self.noise = _checks.finite_float("noise", noise, minimum=0.0)
        self.init_std = _checks.finite_float("init_std", init_std, minimum=0.0)
        self.betas = tuple(float(b) for b in betas)
        self.eps = eps

    def initial_actions(self, z0, init, seed):
        """The [P, samples, T, A] starting candidates."""
        P, T, A, N = z0.shape[0], self.horizon, self.action_dim, self.samples
        if init is not None and init.dim() == 4:
            return init
        obj = self.resolved_objective(z0)
        draws = _random.normal_block(seed, _random.STREAM_INIT, 0, P, N, T, A, device=z0.device)
        candidates = torch.clamp(self.init_std * draws.to(z0.dtype), obj.lo, obj.hi)
        if init is not None:
            _checks.tensor("init", init, ndim=3, dtype=z0.dtype, device=z0.device)
            _checks.shape("init", init, (P, T, A))
            candidates[:, 0] = init
        return candidates

    def _solve(self, z0, goal, init, seed, backend):
        start = self.initial_actions(z0, init, seed)
        actions, cost, history = ops.gbp_plan(
            self.model, z0, goal, self.resolved_objective(z0), start, self.iters, self.lr, self.optimizer,
            self.betas[0], self.betas[1], self.eps, self.noise, seed, backend=backend)
        return actions, cost, history, {"iters": self.iters, "samples": self.samples}
