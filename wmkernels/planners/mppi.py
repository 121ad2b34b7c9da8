"""Model-predictive path integral control (MPPI) as a planner."""
from .. import _checks, ops
from .sampling import SamplingPlanner


class MPPIPlanner(SamplingPlanner):
    """MPPI: sample around the mean, move it to the softmax(-cost / temperature) average."""

    def __init__(self, model, horizon=5, objective=None, samples=300, iters=10, temperature=1.0,
                 init_std=1.0, momentum=0.0, seed=0, backend="auto", action_dim=None, timed=True):
        super().__init__(model, horizon, objective, samples, iters, init_std, momentum, seed,
                         backend, action_dim, timed)
        self.temperature = _checks.finite_float("temperature", temperature, minimum=ops.MIN_TEMPERATURE)

    def _solve(self, z0, goal, init, seed, backend):
        mean, std = self.initial_distribution(z0, init)
        actions, cost, history = ops.mppi_plan(
            self.model, z0, goal, self.resolved_objective(z0), mean, std, self.samples, self.iters,
            self.temperature, self.momentum, seed, backend=backend)
        return actions, cost, history, {"iters": self.iters, "samples": self.samples,
                                        "temperature": self.temperature}
