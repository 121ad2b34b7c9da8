"""The cross-entropy method."""
from .. import _checks, ops
from .sampling import SamplingPlanner


class CEMPlanner(SamplingPlanner):
    """CEM: sample around the mean (sample 0 is the mean), refit to the elites. init: mean [P, T, A]."""

    def __init__(self, model, horizon=5, objective=None, samples=300, elites=30, iters=30,
                 init_std=1.0, momentum=0.0, seed=0, backend="auto", action_dim=None, timed=True):
        super().__init__(model, horizon, objective, samples, iters, init_std, momentum, seed,
                         backend, action_dim, timed)
        self.elites = _checks.positive_int("elites", elites)
        if elites > samples:
            raise ValueError(f"elites must be <= samples, got elites={elites} > samples={samples}")

    def _solve(self, z0, goal, init, seed, backend):
        mean, std = self.initial_distribution(z0, init)
        actions, cost, history = ops.cem_plan(
            self.model, z0, goal, self.resolved_objective(z0), mean, std, self.samples, self.elites, self.iters,
            self.momentum, seed, backend=backend)
        return actions, cost, history, {"iters": self.iters, "samples": self.samples, "elites": self.elites}
