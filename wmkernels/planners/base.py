"""What every planner shares: problem shapes, backend choice, timing, the result type.

With value checks off and timed=False, plan() reads no tensor on the host, so never waits for
the device; under torch.compile and CUDA-graph capture both step aside by themselves
(docs/backends.md, "Value checks and host synchronisation")."""
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
    info: backend, iters, time (seconds, synchronised; None when not timed), history [P, iters], ..."""
    actions: torch.Tensor
    cost: torch.Tensor
    info: dict = field(default_factory=dict)


class Planner:
    """Base of the planners: subclasses implement `_solve`.

    timed: measure info["time"], the wall time of plan() with the device synchronised at its
    end (one host synchronisation per plan on a GPU). False, or under torch.compile or CUDA-graph
    capture: info["time"] is None and plan() waits for nothing."""

    def __init__(self, model, horizon, objective, seed, backend, action_dim, timed):
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
        if not isinstance(timed, bool):
            raise TypeError(f"timed must be a bool, got {type(timed).__name__}")
        self.timed = timed
        self._resolved = (None, None)

    def resolved_objective(self, z0):
        """The objective for this planner and z0's size, dtype and device. Resolving may copy host
        data to the device, so the last one is kept and plans reuse it (traced fresh under compile);
        an Objective is not changed after construction (assign a new one instead)."""
        key = (self.objective, self.horizon, z0.shape[-1], self.action_dim, z0.dtype, z0.device)
        if torch.compiler.is_compiling():
            return self.objective.resolve(*key[1:])
        if self._resolved[0] != key:
            self._resolved = (key, self.objective.resolve(*key[1:]))
        return self._resolved[1]

    def plan(self, z0, goal, init=None, seed=None) -> PlanResult:
        """Plan for z0, goal [P, D] (or [D]); init as the subclass documents; seed overrides self.seed.
        Raises NonFiniteError when the cost or actions of a problem are NaN or Inf (a value check)."""
        single = isinstance(z0, torch.Tensor) and z0.dim() == 1
        if single:
            z0 = z0[None]
            goal = goal[None] if isinstance(goal, torch.Tensor) and goal.dim() == 1 else goal
            init = init[None] if isinstance(init, torch.Tensor) else init
        check_problem(self.model, z0, goal)
        seed = self.seed if seed is None else _checks.seed(seed)
        backend = _backend.resolve(self.backend, z0.device, self.model)
        timed = self.timed and _checks.can_sync()
        start = time.perf_counter() if timed else None
        actions, cost, history, extra = self._solve(z0, goal, init, seed, backend)
        if timed and z0.device.type == "cuda":
            torch.cuda.synchronize(z0.device)
        elapsed = time.perf_counter() - start if timed else None
        _checks.finite_plan(actions, cost)
        info = {"backend": backend, "time": elapsed, "history": history, **extra}
        if single:
            actions, cost, history = actions[0], cost[0], history[0]
            info["history"] = history
        return PlanResult(actions, cost, info)

    def _solve(self, z0, goal, init, seed, backend):
        raise NotImplementedError
