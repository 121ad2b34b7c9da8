"""Calls of the fused ops (C++ and Triton backends) with arguments built one way for all.

`model_args` and `objective_args` turn an MLPWorldModel and a ResolvedObjective into the
op's argument blocks (wmkernels/ops/schema.py); `call` converts the problem tensors to the
backend's compute dtype, runs torch.ops.wmkernels.<prefix><op> and casts the outputs back.

Compute dtypes: the C++ backends keep float64 as float64 and compute everything else in
float32; the Triton backend computes in float32 (docs/maths.md, "Precision").
"""
import importlib

import torch

from .. import _backend, activations
from . import schema

TRITON_MODULES = ("rollouts", "adam", "gbp", "sampling")


def compute_dtype(backend: str, dtype: torch.dtype) -> torch.dtype:
    if backend != "triton" and dtype == torch.float64:
        return torch.float64
    return torch.float32


def as_arg(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return t.to(dtype=dtype).contiguous()


def model_args(model, dtype):
    """[weights], [biases], skip (None for the identity), activation id."""
    skip = None if model.skip is None else as_arg(model.skip, dtype)
    return ([as_arg(w, dtype) for w in model.weights], [as_arg(b, dtype) for b in model.biases], skip,
            activations.IDS[model.activation])


def objective_args(obj, dtype):
    """step_weights [T], state_weights [D], action_penalty, lo [A], hi [A]."""
    return (as_arg(obj.step_weights, dtype), as_arg(obj.state_weights, dtype), float(obj.action_penalty),
            as_arg(obj.lo, dtype), as_arg(obj.hi, dtype))


@_backend.constant_under_compile
def load(backend: str):
    """Make the backend's implementations of every op available (registers them once).
    Under torch.compile it runs while tracing, and the graph holds no call to it."""
    schema.define()
    if backend == "triton":
        for family in TRITON_MODULES:
            importlib.import_module(f"wmkernels.ops.{family}.triton")
    else:
        from .. import _extension
        _extension.module()


def call(op: str, backend: str, dtype, tensors, model=None, obj=None, params=()):
    """Run op on `backend`: tensors (converted to the compute dtype), then the model and
    objective blocks (if given), then params; returns the outputs in `dtype`."""
    load(backend)
    cdtype = compute_dtype(backend, dtype)
    args = [as_arg(t, cdtype) for t in tensors]
    if model is not None:
        args += [*model_args(model, cdtype), *objective_args(obj, cdtype)]
    out = schema.packet(op, backend)(*args, *params)
    return tuple(t.to(dtype) for t in out)
