"""The ops every backend implements, behind one dispatching front.

Each function checks its inputs (errors name the argument), resolves `backend`
("auto" picks the fastest available for the tensors' device) and calls
wmkernels/ops/<family>/<backend>.py. Shapes: z0, goal [P, D]; actions [P, N, T, A].
"""
import torch

from .. import _backend, _checks
from ..model import MLPWorldModel
from ..objective import Objective, ResolvedObjective

__all__ = ["rollout", "rollout_grad", "adam_step", "gbp_plan", "cem_plan", "mppi_plan"]


def _model_meta(model, z0):
    """(dtype, device, D, A or None) of a world model; A is None for a generic module."""
    if isinstance(model, MLPWorldModel):
        return model.dtype, model.device, model.state_dim, model.action_dim
    if isinstance(model, torch.nn.Module) or callable(model):
        _checks.tensor("z0", z0, ndim=2)
        return z0.dtype, z0.device, z0.shape[1], None
    raise TypeError(f"model must be an MLPWorldModel or a torch.nn.Module, got {type(model).__name__}")


def check_problem(model, z0, goal, plan_shape=None, plan_name="actions"):
    """Check z0, goal [P, D] and a plan tensor [P, *lead, T, A]; return (P, D, A)."""
    dtype, device, D, A = _model_meta(model, z0)
    _checks.tensor("z0", z0, ndim=2, dtype=dtype, device=device)
    _checks.shape("z0", z0, (None, D))
    P = z0.shape[0]
    _checks.tensor("goal", goal, ndim=2, dtype=dtype, device=device)
    _checks.shape("goal", goal, (P, D))
    if plan_shape is not None:
        plan, lead = plan_shape
        _checks.tensor(plan_name, plan, ndim=3 + lead, dtype=dtype, device=device)
        _checks.shape(plan_name, plan, (P,) + (None,) * lead + (None, A))
        if plan.shape[-2] < 1:
            raise ValueError(f"{plan_name} must have horizon T >= 1, got shape {list(plan.shape)}")
        A = plan.shape[-1]
    return P, D, A


def resolve_objective(objective, horizon, D, A, dtype, device) -> ResolvedObjective:
    if isinstance(objective, ResolvedObjective):
        return objective
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a wmkernels.Objective, got {type(objective).__name__}")
    return objective.resolve(horizon, D, A, dtype, device)


def _dispatch(family, backend, device, model):
    name = _backend.resolve(backend, device, family, model)
    return _backend.ops_module(family, name)


def rollout(model, z0, actions, goal, objective, return_states=False, backend="auto"):
    """Cost [P, N] of each candidate (and states [P, N, T+1, D] with return_states=True)."""
    _, D, A = check_problem(model, z0, goal, (actions, 1))
    obj = resolve_objective(objective, actions.shape[2], D, A, actions.dtype, actions.device)
    return _dispatch("rollouts", backend, actions.device, model).rollout(
        model, z0, actions, goal, obj, return_states)


def rollout_grad(model, z0, actions, goal, objective, backend="auto"):
    """(cost [P, N], dC/dactions [P, N, T, A]) in one forward and backward pass."""
    _, D, A = check_problem(model, z0, goal, (actions, 1))
    obj = resolve_objective(objective, actions.shape[2], D, A, actions.dtype, actions.device)
    return _dispatch("rollouts", backend, actions.device, model).rollout_grad(model, z0, actions, goal, obj)


def _bound(name, value, A, like):
    """A bound as a [A] tensor like `like`: None is unbounded, a scalar is broadcast."""
    if value is None:
        value = float("-inf") if name == "lo" else float("inf")
    if isinstance(value, torch.Tensor):
        _checks.tensor(name, value, ndim=1, dtype=like.dtype, device=like.device, finite=False)
        _checks.shape(name, value, (A,))
    else:
        value = torch.full((A,), float(value), dtype=like.dtype, device=like.device)
    if bool(torch.isnan(value).any()):
        raise ValueError(f"{name} contains NaN")
    return value


def adam_step(actions, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
              lo=None, hi=None, noise=None, backend="auto"):
    """One projected Adam step on actions [..., A], in place (also updates m, v); returns actions."""
    _checks.tensor("actions", actions)
    for name, t in (("grad", grad), ("m", m), ("v", v)) + ((("noise", noise),) if noise is not None else ()):
        _checks.tensor(name, t, dtype=actions.dtype, device=actions.device)
        _checks.shape(name, t, tuple(actions.shape))
    if not (actions.is_contiguous() and m.is_contiguous() and v.is_contiguous()):
        raise ValueError("actions, m and v must be contiguous (they are updated in place)")
    _checks.positive_int("step", step)
    _checks.finite_float("lr", lr, minimum=0.0, strict=True)
    _checks.finite_float("beta1", beta1, minimum=0.0, maximum=1.0)
    _checks.finite_float("beta2", beta2, minimum=0.0, maximum=1.0)
    if beta1 >= 1.0 or beta2 >= 1.0:
        raise ValueError(f"beta1 and beta2 must be < 1, got {beta1}, {beta2}")
    _checks.finite_float("eps", eps, minimum=0.0, strict=True)
    A = actions.shape[-1]
    lo, hi = _bound("lo", lo, A, actions), _bound("hi", hi, A, actions)
    if bool((lo > hi).any()):
        raise ValueError("lo must be <= hi everywhere")
    module = _dispatch("adam", backend, actions.device, None)
    return module.adam_step(actions, grad, m, v, step, float(lr), float(beta1), float(beta2),
                            float(eps), lo, hi, noise)


def gbp_plan(model, z0, goal, objective, init, iters, lr, optimizer="adam", beta1=0.9,
             beta2=0.999, eps=1e-8, noise=0.0, seed=0, backend="auto"):
    """A whole gradient-based plan: -> (actions [P, T, A], cost [P], history [P, iters])."""
    _, D, A = check_problem(model, z0, goal, (init, 1), "init")
    _checks.positive_int("iters", iters)
    _checks.finite_float("lr", lr, minimum=0.0, strict=True)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= _checks.finite_float(name, beta) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")
    _checks.finite_float("eps", eps, minimum=0.0, strict=True)
    _checks.finite_float("noise", noise, minimum=0.0)
    _checks.seed(seed)
    obj = resolve_objective(objective, init.shape[2], D, A, init.dtype, init.device)
    return _dispatch("gbp", backend, init.device, model).gbp_plan(
        model, z0, goal, obj, init, iters, float(lr), optimizer, float(beta1), float(beta2),
        float(eps), float(noise), seed)


def _check_sampling(model, z0, goal, mean, std, samples, iters, momentum, seed):
    _, D, A = check_problem(model, z0, goal, (mean, 0), "mean")
    _checks.tensor("std", std, dtype=mean.dtype, device=mean.device)
    _checks.shape("std", std, tuple(mean.shape))
    if bool((std < 0).any()):
        raise ValueError("std must be non-negative")
    _checks.positive_int("samples", samples)
    _checks.positive_int("iters", iters)
    if not 0.0 <= _checks.finite_float("momentum", momentum) < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    _checks.seed(seed)
    return D, A


def cem_plan(model, z0, goal, objective, mean, std, samples, elites, iters, momentum=0.0,
             seed=0, backend="auto"):
    """A whole CEM plan: -> (mean [P, T, A], its cost [P], mean elite cost history [P, iters])."""
    D, A = _check_sampling(model, z0, goal, mean, std, samples, iters, momentum, seed)
    _checks.positive_int("elites", elites)
    if elites > samples:
        raise ValueError(f"elites must be <= samples, got elites={elites} > samples={samples}")
    obj = resolve_objective(objective, mean.shape[1], D, A, mean.dtype, mean.device)
    return _dispatch("sampling", backend, mean.device, model).cem_plan(
        model, z0, goal, obj, mean, std, samples, elites, iters, float(momentum), seed)


def mppi_plan(model, z0, goal, objective, mean, std, samples, iters, temperature=1.0,
              momentum=0.0, seed=0, backend="auto"):
    """A whole MPPI plan: -> (mean [P, T, A], its cost [P], weighted cost history [P, iters])."""
    D, A = _check_sampling(model, z0, goal, mean, std, samples, iters, momentum, seed)
    _checks.finite_float("temperature", temperature, minimum=0.0, strict=True)
    obj = resolve_objective(objective, mean.shape[1], D, A, mean.dtype, mean.device)
    return _dispatch("sampling", backend, mean.device, model).mppi_plan(
        model, z0, goal, obj, mean, std, samples, iters, float(temperature), float(momentum), seed)
