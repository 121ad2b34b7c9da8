"""Model-predictive control: plan, execute the first `execute` actions, replan from the next state."""
import torch

from .. import _checks
from .base import Planner


class MPC:
    """Wraps any planner. With warm_start, each plan starts from the previous plan shifted by
    `execute` steps, its tail filled with zeros clamped into the bounds. Each call uses
    seed planner.seed + (number of calls since reset) so replans draw fresh noise.

    The warm start is one buffer, updated in place from the second call on: an act() captured
    in a CUDA graph reads and writes it on every replay (with the seed of the captured call)."""

    def __init__(self, planner: Planner, execute: int = 1, warm_start: bool = True):
        if not isinstance(planner, Planner):
            raise TypeError(f"planner must be a wmkernels planner, got {type(planner).__name__}")
        self.planner = planner
        self.execute = _checks.positive_int("execute", execute)
        if execute > planner.horizon:
            raise ValueError(f"execute must be <= the planner's horizon ({planner.horizon}), got {execute}")
        self.warm_start = warm_start
        self.reset()

    def reset(self) -> None:
        """Forget the warm start and the call count (a new episode)."""
        self._warm = None
        self._calls = 0
        self.last_result = None

    def act(self, z, goal) -> torch.Tensor:
        """Actions to execute now: [P, execute, A] for z [P, D], [execute, A] for z [D]."""
        single = isinstance(z, torch.Tensor) and z.dim() == 1
        z2 = z[None] if single else z
        goal2 = goal[None] if single and isinstance(goal, torch.Tensor) and goal.dim() == 1 else goal
        init = self._warm
        if init is not None and init.shape[0] != z2.shape[0]:
            raise ValueError(f"z holds {z2.shape[0]} problems but the warm start holds {init.shape[0]}; "
                             f"call reset() between episodes")
        seed = (self.planner.seed + self._calls) % 2**32
        result = self.planner.plan(z2, goal2, init=init, seed=seed)
        self._calls += 1
        self.last_result = result
        if self.warm_start:
            obj = self.planner.resolved_objective(z2)
            tail = torch.clamp(torch.zeros_like(result.actions[:, :self.execute]), obj.lo, obj.hi)
            shifted = torch.cat([result.actions[:, self.execute:], tail], dim=1)
            if self._warm is None:
                self._warm = shifted
            else:
                self._warm.copy_(shifted)
        now = result.actions[:, :self.execute]
        return now[0] if single else now
