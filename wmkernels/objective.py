"""The goal cost shared by every planner and backend.

For states z_t = rollout of actions a_0..a_{T-1} from z_0:

    C = sum_{t=1..T} w_t sum_d q_d (z_{t,d} - g_d)^2  +  lam sum_{t=0..T-1} ||a_t||^2

w [T]: "last" (w_T = 1, others 0), "all" (w_t = base^(t-1)), or explicit weights.
q [D]: per-dimension weights (default ones). Bounds lo, hi [A] clamp candidates
(CEM, MPPI) and are the projection set of gradient-based planning.
"""
from dataclasses import dataclass

import torch

from . import _checks


@dataclass(frozen=True)
class ResolvedObjective:
    """An Objective made concrete for one horizon, state and action size, dtype and device."""
    step_weights: torch.Tensor    # w [T]
    state_weights: torch.Tensor   # q [D]
    action_penalty: float         # lam
    lo: torch.Tensor              # [A]
    hi: torch.Tensor              # [A]


class Objective:
    """The cost C above, for any horizon (``resolve`` makes it concrete for one).

    mode: "last" weighs only the final predicted state; "all" weighs step t = 1..T by base^(t-1)
        (base < 1 favours reaching the goal early, which suits MPC that replans after every action).
    weights: explicit step weights [T] (non-negative), instead of mode.
    q: per-dimension state weights [D] (default ones). The cost is in the units of q: with
        q_d = 1 / std_d^2 (std the data's spread of dim d) it is a squared error in normalised units,
        the scale SGD's lr and MPPI's temperature must be chosen for (Adam and CEM do not care).
    action_penalty: lam >= 0 on the squared actions.
    lo, hi: action bounds, a float or [A]; lo = -inf or hi = +inf leaves that side unbounded
        (lo = +inf and hi = -inf are refused). CEM and MPPI clamp their samples and means,
        gradient planning projects onto them.
    """

    def __init__(self, mode: str = "last", base: float = 1.0, weights=None, q=None,
                 action_penalty: float = 0.0, lo=-1.0, hi=1.0):
        if weights is not None:
            mode = "weights"
            weights = _as_vector("weights", weights)
            if bool((weights < 0).any()):
                raise ValueError("weights must be non-negative")
        elif mode not in ("last", "all"):
            raise ValueError(f"mode must be 'last' or 'all' (or pass weights=[T]), got {mode!r}")
        self.mode = mode
        self.base = _checks.finite_float("base", base, minimum=0.0, strict=True)
        self.weights = weights
        self.q = None if q is None else _as_vector("q", q)
        if self.q is not None and bool((self.q < 0).any()):
            raise ValueError("q must be non-negative")
        self.action_penalty = _checks.finite_float("action_penalty", action_penalty, minimum=0.0)
        self.lo = _as_bound("lo", lo)
        self.hi = _as_bound("hi", hi)
        if bool((torch.as_tensor(self.lo) > torch.as_tensor(self.hi)).any()):
            raise ValueError(f"lo must be <= hi everywhere, got lo={self.lo} hi={self.hi}")

    def __repr__(self):
        return (f"Objective(mode={self.mode!r}, base={self.base}, q={'ones' if self.q is None else 'given'}, "
                f"action_penalty={self.action_penalty}, lo={self.lo}, hi={self.hi})")

    def resolve(self, horizon: int, state_dim: int, action_dim: int,
                dtype=torch.float32, device=None) -> ResolvedObjective:
        opts = dict(dtype=dtype, device=device)
        if self.mode == "weights":
            if self.weights.numel() != horizon:
                raise ValueError(f"weights has {self.weights.numel()} entries but the horizon is {horizon}")
            w = self.weights.to(**opts)
        elif self.mode == "last":
            w = torch.zeros(horizon, **opts)
            w[-1] = 1.0
        else:
            w = torch.tensor([self.base ** t for t in range(horizon)], **opts)
        if self.q is None:
            q = torch.ones(state_dim, **opts)
        elif self.q.numel() != state_dim:
            raise ValueError(f"q has {self.q.numel()} entries but the state has {state_dim} dimensions")
        else:
            q = self.q.to(**opts)
        lo, hi = (_bound_vector(name, b, action_dim, opts) for name, b in (("lo", self.lo), ("hi", self.hi)))
        return ResolvedObjective(w, q, self.action_penalty, lo, hi)


def cost(states: torch.Tensor, actions: torch.Tensor, goal: torch.Tensor, obj: ResolvedObjective) -> torch.Tensor:
    """C for states [..., T+1, D] (z_0 first), actions [..., T, A], goal [..., D] -> [...]."""
    err = states[..., 1:, :] - goal.unsqueeze(-2)
    goal_term = (err * err * obj.state_weights).sum(-1)
    total = (goal_term * obj.step_weights).sum(-1)
    if obj.action_penalty:
        total = total + obj.action_penalty * (actions * actions).sum((-1, -2))
    return total


def _as_vector(name: str, value, allow_inf: bool = False) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {list(t.shape)}")
    if bool(torch.isnan(t).any()) or (not allow_inf and bool(torch.isinf(t).any())):
        raise ValueError(f"{name} contains NaN{'' if allow_inf else ' or Inf'}")
    return t


def _as_bound(name: str, value):
    """A bound: a float or a [A] vector. -inf in lo and +inf in hi mean unbounded on that side;
    NaN, lo = +inf and hi = -inf (an empty set of actions) are refused."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:
            raise ValueError(f"{name} is NaN")
        bound = float(value)
        wrong = bound == (float("inf") if name == "lo" else float("-inf"))
    else:
        bound = _as_vector(name, value, allow_inf=True)
        wrong = bool((bound == (float("inf") if name == "lo" else float("-inf"))).any())
    if wrong:
        side = "+inf (lo = -inf means no lower bound)" if name == "lo" else "-inf (hi = +inf means no upper bound)"
        raise ValueError(f"{name} must not be {side}, got {value}")
    return bound


def _bound_vector(name, bound, action_dim, opts) -> torch.Tensor:
    if isinstance(bound, float):
        return torch.full((action_dim,), bound, **opts)
    if bound.numel() != action_dim:
        raise ValueError(f"{name} has {bound.numel()} entries but actions have {action_dim} dimensions")
    return bound.to(**opts)
