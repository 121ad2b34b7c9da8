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


def objective_args(obj, dtype, float32_bounds=False):
    """step_weights [T], state_weights [D], action_penalty, lo [A], hi [A] (bound_args)."""
    return (as_arg(obj.step_weights, dtype), as_arg(obj.state_weights, dtype), float(obj.action_penalty),
            *bound_args(obj.lo, obj.hi, dtype, float32_bounds))


def bound_args(lo, hi, dtype, float32_bounds=False):
    """lo, hi [A] in `dtype`. float32_bounds (float64 inputs to a backend that clamps in
    float32: triton, cuda): lo rounded up and hi down to float32 values, so that the float32
    results, cast back to float64, lie inside [lo, hi] exactly."""
    if float32_bounds:
        lo, hi = _to_float32_inwards(lo, up=True), _to_float32_inwards(hi, up=False)
    return as_arg(lo, dtype), as_arg(hi, dtype)


def _to_float32_inwards(bound, up):
    rounded = bound.float()
    off = rounded.double() < bound if up else rounded.double() > bound
    towards = torch.full_like(rounded, float("inf") if up else float("-inf"))
    return torch.where(off, torch.nextafter(rounded, towards), rounded).to(bound.dtype)


def clamps_in_float32(backend: str, dtype: torch.dtype) -> bool:
    """Whether `backend` computes float64 inputs in float32 (and so needs bound_args' rounding)."""
    return dtype == torch.float64 and backend in ("triton", "cuda")


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
        args += [*model_args(model, cdtype), *objective_args(obj, cdtype, clamps_in_float32(backend, dtype))]
    out = schema.packet(op, backend)(*args, *params)
    return tuple(t.to(dtype) for t in out)
