"""Rollout and rollout_grad through the C++/CUDA extension (backends "cpp" and "cuda").

Same signatures and results as naive.py beside it. The kernels (csrc/rollouts_cpu.cpp,
csrc/rollouts_cuda.cu) compute float64 inputs in float64 and other dtypes in float32.
"""
from ... import _extension as ext


def rollout(model, z0, actions, goal, obj, return_states=False):
    """Cost [P, N] of each candidate, and the states [P, N, T+1, D] if asked."""
    dtype = ext.compute_dtype(actions.dtype)
    cost, states = ext.ops().rollout(
        ext.as_arg(z0, dtype), ext.as_arg(actions, dtype), ext.as_arg(goal, dtype),
        *ext.model_args(model, dtype, actions.device), *ext.objective_args(obj, dtype), bool(return_states))
    cost = cost.to(actions.dtype)
    return (cost, states.to(actions.dtype)) if return_states else cost


def rollout_grad(model, z0, actions, goal, obj):
    """(cost [P, N], dC/dactions [P, N, T, A]) in one fused forward and backward pass."""
    dtype = ext.compute_dtype(actions.dtype)
    cost, grad = ext.ops().rollout_grad(
        ext.as_arg(z0, dtype), ext.as_arg(actions, dtype), ext.as_arg(goal, dtype),
        *ext.model_args(model, dtype, actions.device), *ext.objective_args(obj, dtype))
    return cost.to(actions.dtype), grad.to(actions.dtype)
