"""What the sampling-based planners (CEM, MPPI) share: the initial sampling distribution."""
import torch

from .. import _checks
from .base import Planner


class SamplingPlanner(Planner):

    def __init__(self, model, horizon, objective, samples, iters, init_std, momentum, seed,
                 backend, action_dim, timed):
        super().__init__(model, horizon, objective, seed, backend, action_dim, timed)
        self.samples = _checks.positive_int("samples", samples)
        self.iters = _checks.positive_int("iters", iters)
        self.init_std = _checks.finite_float("init_std", init_std, minimum=0.0)
        if not 0.0 <= _checks.finite_float("momentum", momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum

    def initial_distribution(self, z0, init):
        """(mean, std) [P, T, A]: mean = init (default zeros clamped into the bounds), std = init_std."""
        P, T, A = z0.shape[0], self.horizon, self.action_dim
        if init is None:
            obj = self.resolved_objective(z0)
            mean = torch.clamp(torch.zeros(P, T, A, dtype=z0.dtype, device=z0.device), obj.lo, obj.hi)
        else:
            _checks.tensor("init", init, ndim=3, dtype=z0.dtype, device=z0.device)
            _checks.shape("init", init, (P, T, A))
            mean = init
        return mean, torch.full_like(mean, self.init_std)
