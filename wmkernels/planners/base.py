"""What every planner shares: problem shapes, backend choice, timing, the result type."""
import time
from dataclasses import dataclass, field

import torch

from .. import _backend, _checks
from ..model import MLPWorldModel
from ..objective import Objective
from ..ops import check_problem


@dataclass
class PlanResult:
    """actions [P, T, A] ([T, A] for a single problem), cost [P] ([]) of those actions,
    info: backend, iters, time (seconds, synchronised), history [P, iters], ..."""
    actions: torch.Tensor
    cost: torch.Tensor
    info: dict = field(default_factory=dict)


class Planner:
    """Base of the planners: subclasses implement `_solve`."""

    def __init__(self, model, horizon, objective, seed, backend, action_dim=None):
        if isinstance(model, MLPWorldModel):
            if action_dim is not None and action_dim != model.action_dim:
                raise ValueError(f"action_dim={action_dim} disagrees with the model's {model.action_dim}")
            action_dim = model.action_dim
        elif not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be an MLPWorldModel or a torch.nn.Module, got {type(model).__name__}")
        elif action_dim is None:
            raise ValueError("action_dim is required for a world model that is not an MLPWorldModel")
        self.model = model
        self.horizon = _checks.positive_int("horizon", horizon)
        self.action_dim = _checks.positive_int("action_dim", action_dim)
        if objective is None:
            objective = Objective()
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be a wmkernels.Objective, got {type(objective).__name__}")
        self.objective = objective
        self.seed = _checks.seed(seed)
        if backend != "auto" and backend not in _backend.BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {_backend.BACKENDS}, got {backend!r}")
        self.backend = backend

    def resolved_objective(self, z0):
        return self.objective.resolve(self.horizon, z0.shape[-1], self.action_dim, z0.dtype, z0.device)

    def plan(self, z0, goal, init=None, seed=None) -> PlanResult:
        """Plan for z0, goal [P, D] (or [D]); init as the subclass documents; seed overrides self.seed."""
        single = isinstance(z0, torch.Tensor) and z0.dim() == 1
        if single:
            z0 = z0[None]
            goal = goal[None] if isinstance(goal, torch.Tensor) and goal.dim() == 1 else goal
            init = init[None] if isinstance(init, torch.Tensor) else init
        check_problem(self.model, z0, goal)
        seed = self.seed if seed is None else _checks.seed(seed)
        backend = _backend.resolve(self.backend, z0.device, self.model)
        start = time.perf_counter()
        actions, cost, history, extra = self._solve(z0, goal, init, seed, backend)
        if z0.device.type == "cuda":
            torch.cuda.synchronize(z0.device)
        elapsed = time.perf_counter() - start
        info = {"backend": backend, "time": elapsed, "history": history, **extra}
        if single:
            actions, cost, history = actions[0], cost[0], history[0]
            info["history"] = history
        return PlanResult(actions, cost, info)

    def _solve(self, z0, goal, init, seed, backend):
        raise NotImplementedError
