"""The ops every backend implements, behind one dispatching front.

Each function checks its inputs (errors name the argument), resolves `backend`
("auto" picks the fastest available for the tensors' device) and runs the op: the torch
backend calls wmkernels/ops/<family>/naive.py, the fused backends call the registered op of
wmkernels/ops/schema.py through wmkernels/ops/_fused.py. Shapes: z0, goal [P, D];
actions [P, N, T, A]. The maths: docs/maths.md; backends and dispatch: docs/backends.md.
"""
import torch

from .. import _backend, _checks
from ..model import MLPWorldModel
from ..objective import Objective, ResolvedObjective
from . import _fused, schema
from .adam import naive as adam_naive
from .gbp import naive as gbp_naive
from .rollouts import naive as rollouts_naive
from .sampling import naive as sampling_naive
from .differentiable import rollout_cost

__all__ = ["rollout", "rollout_grad", "rollout_cost", "adam_step", "gbp_plan", "cem_plan", "mppi_plan"]

# The smallest MPPI temperature: 2^-126, the smallest normal float32, so that the temperature is
# a nonzero normal number in every backend's compute dtype (also where a GPU flushes subnormals
# to zero) and each weight exp(-(c - c_min) / temperature) is a number in [0, 1] (docs/maths.md).
MIN_TEMPERATURE = 2.0 ** -126


def _model_meta(model, z0):
    """(dtype, device, D, A or None) of a world model; A is None for a generic module. An
    MLPWorldModel's structure is checked again (MLPWorldModel.validate: no values are read)."""
    if isinstance(model, MLPWorldModel):
        model.validate()
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


def rollout(model, z0, actions, goal, objective, return_states=False, backend="auto"):
    """Cost [P, N] of each candidate (and states [P, N, T+1, D] with return_states=True)."""
    _, D, A = check_problem(model, z0, goal, (actions, 1))
    obj = resolve_objective(objective, actions.shape[2], D, A, actions.dtype, actions.device)
    name = _backend.resolve(backend, actions.device, model)
    if name == "torch":
        return rollouts_naive.rollout(model, z0, actions, goal, obj, return_states)
    cost, states = _fused.call("rollout", name, actions.dtype, (z0, goal, actions), model, obj,
                               (bool(return_states),))
    return (cost, states) if return_states else cost


def rollout_grad(model, z0, actions, goal, objective, backend="auto"):
    """(cost [P, N], dC/dactions [P, N, T, A]) in one forward and backward pass."""
    _, D, A = check_problem(model, z0, goal, (actions, 1))
    obj = resolve_objective(objective, actions.shape[2], D, A, actions.dtype, actions.device)
    name = _backend.resolve(backend, actions.device, model)
    if name == "torch":
        return rollouts_naive.rollout_grad(model, z0, actions, goal, obj)
    return _fused.call("rollout_grad", name, actions.dtype, (z0, goal, actions), model, obj)


def _bound(name, value, A, like):
    """A bound as a [A] tensor like `like`: None is unbounded, a scalar is broadcast; -inf in lo
    and +inf in hi are unbounded, NaN and lo = +inf or hi = -inf are refused."""
    if value is None:
        value = float("-inf") if name == "lo" else float("inf")
    if isinstance(value, torch.Tensor):
        _checks.tensor(name, value, ndim=1, dtype=like.dtype, device=like.device, finite=False)
        _checks.shape(name, value, (A,))
    else:
        value = torch.full((A,), float(value), dtype=like.dtype, device=like.device)
    _checks.check_values(lambda: ~torch.isnan(value), f"{name} contains NaN")
    empty = float("inf") if name == "lo" else float("-inf")
    _checks.check_values(lambda: value != empty, f"{name} must not contain {empty}")
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
    _checks.check_values(lambda: lo <= hi, "lo must be <= hi everywhere")
    name = _backend.resolve(backend, actions.device)
    hyper = (int(step), float(lr), float(beta1), float(beta2), float(eps))
    if name == "torch":
        return adam_naive.adam_step(actions, grad, m, v, *hyper, lo, hi, noise)
    _fused.load(name)
    cdtype = _fused.compute_dtype(name, actions.dtype)
    state = (actions, m, v) if actions.dtype == cdtype else tuple(t.to(cdtype) for t in (actions, m, v))
    arg = lambda t: None if t is None else _fused.as_arg(t, cdtype)  # noqa: E731
    bounds = _fused.bound_args(lo, hi, cdtype, _fused.clamps_in_float32(name, actions.dtype))
    schema.packet("adam_step", name)(state[0], arg(grad), state[1], state[2], *hyper, *bounds, arg(noise))
    if state[0] is not actions:  # computed on a copy in the compute dtype: write back
        for dst, src in zip((actions, m, v), state):
            dst.copy_(src)
    return actions


def gbp_plan(model, z0, goal, objective, init, iters, lr, optimizer="adam", beta1=0.9,
             beta2=0.999, eps=1e-8, noise=0.0, seed=0, backend="auto"):
    """A whole gradient-based plan: -> (actions [P, T, A], cost [P], history [P, iters])."""
    _, D, A = check_problem(model, z0, goal, (init, 1), "init")
    _checks.positive_int("iters", iters)
    _checks.finite_float("lr", lr, minimum=0.0, strict=True)
    if optimizer not in schema.OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {schema.OPTIMIZERS}, got {optimizer!r}")
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= _checks.finite_float(name, beta) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")
    _checks.finite_float("eps", eps, minimum=0.0, strict=True)
    _checks.finite_float("noise", noise, minimum=0.0)
    _checks.seed(seed)
    obj = resolve_objective(objective, init.shape[2], D, A, init.dtype, init.device)
    name = _backend.resolve(backend, init.device, model)
    hyper = (float(lr), optimizer, float(beta1), float(beta2), float(eps), float(noise), seed)
    if name == "torch":
        return gbp_naive.gbp_plan(model, z0, goal, obj, init, iters, *hyper)
    return _fused.call("gbp_plan", name, init.dtype, (z0, goal, init), model, obj,
                       (iters, float(lr), schema.OPTIMIZERS.index(optimizer), *hyper[2:]))


def _check_sampling(model, z0, goal, mean, std, samples, iters, momentum, seed):
    _, D, A = check_problem(model, z0, goal, (mean, 0), "mean")
    _checks.tensor("std", std, dtype=mean.dtype, device=mean.device)
    _checks.shape("std", std, tuple(mean.shape))
    _checks.check_values(lambda: std >= 0, "std must be non-negative")
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
    name = _backend.resolve(backend, mean.device, model)
    if name == "torch":
        return sampling_naive.cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, float(momentum), seed)
    return _fused.call("cem_plan", name, mean.dtype, (z0, goal, mean, std), model, obj,
                       (samples, elites, iters, float(momentum), seed))


def mppi_plan(model, z0, goal, objective, mean, std, samples, iters, temperature=1.0,
              momentum=0.0, seed=0, backend="auto"):
    """A whole MPPI plan: -> (mean [P, T, A], its cost [P], weighted cost history [P, iters])."""
    D, A = _check_sampling(model, z0, goal, mean, std, samples, iters, momentum, seed)
    _checks.finite_float("temperature", temperature, minimum=MIN_TEMPERATURE)
    obj = resolve_objective(objective, mean.shape[1], D, A, mean.dtype, mean.device)
    name = _backend.resolve(backend, mean.device, model)
    settings = (samples, iters, float(temperature), float(momentum), seed)
    if name == "torch":
        return sampling_naive.mppi_plan(model, z0, goal, obj, mean, std, *settings)
    return _fused.call("mppi_plan", name, mean.dtype, (z0, goal, mean, std), model, obj, settings)
