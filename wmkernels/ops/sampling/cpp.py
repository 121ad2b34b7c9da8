"""Whole CEM and MPPI plans in one call of the C++/CUDA extension (backends "cpp" and "cuda").

Same signatures and results as naive.py beside it; the candidates come from the shared
Philox stream, so equal seeds give equal plans.
"""
from ... import _extension as ext


def _common(model, z0, goal, obj, mean, std):
    dtype = ext.compute_dtype(mean.dtype)
    return dtype, (ext.as_arg(z0, dtype), ext.as_arg(goal, dtype), *ext.model_args(model, dtype, mean.device),
                   *ext.objective_args(obj, dtype), ext.as_arg(obj.lo, dtype), ext.as_arg(obj.hi, dtype),
                   ext.as_arg(mean, dtype), ext.as_arg(std, dtype))


def cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, momentum=0.0, seed=0):
    dtype, args = _common(model, z0, goal, obj, mean, std)
    out = ext.ops().cem_plan(*args, int(samples), int(elites), int(iters), float(momentum), int(seed))
    return tuple(t.to(mean.dtype) for t in out)


def mppi_plan(model, z0, goal, obj, mean, std, samples, iters, temperature=1.0, momentum=0.0, seed=0):
    dtype, args = _common(model, z0, goal, obj, mean, std)
    out = ext.ops().mppi_plan(*args, int(samples), int(iters), float(temperature), float(momentum), int(seed))
    return tuple(t.to(mean.dtype) for t in out)
