"""Which backends exist on this install and device (docs/backends.md).

A backend is one of BACKENDS; every backend implements every op of wmkernels/ops/schema.py.
Nothing heavy (triton, the C++ extension) is imported until a backend is asked for.
"""
import importlib.util
import os

import torch

BACKENDS = ("torch", "triton", "cpp", "cuda")
# Preference of backend="auto" per device type: fastest first.
_AUTO_ORDER = {"cuda": ("triton", "cuda", "torch"), "cpu": ("cpp", "torch")}


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why."""


def constant_under_compile(fn):
    """What torch.compiler.assume_constant_result(fn) does (torch.compile calls fn while tracing
    and keeps its result as a constant of the graph), without importing torch._dynamo (and with
    it triton) at import of wmkernels. tests/test_compile.py checks that both mark alike."""
    fn._dynamo_marked_constant = True
    return fn


def _triton_reason(device: torch.device):
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install 'triton>=3.6')"
    if device.type == "cuda":
        return None
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1":
        return None
    return f"triton kernels run on CUDA tensors (CPU tensors only under TRITON_INTERPRET=1), got {device}"


def _extension_reason(backend: str, device: torch.device):
    want = "cpu" if backend == "cpp" else "cuda"
    if device.type != want:
        return f"the {backend} backend runs on {want} tensors, got {device}"
    from . import _extension
    return _extension.unavailable_reason(backend)


def unavailable_reason(backend: str, device):
    """None if `backend` can run on `device`, else a sentence saying why not."""
    device = torch.device(device)
    if backend not in BACKENDS:
        return f"unknown backend {backend!r}; choose one of {BACKENDS} or 'auto'"
    return {"torch": lambda: None, "triton": lambda: _triton_reason(device)}.get(
        backend, lambda: _extension_reason(backend, device))()


def resolve(backend: str, device, model=None) -> str:
    """The concrete backend for a request: 'auto' picks the fastest available one."""
    from .model import MLPWorldModel
    fused_ok = model is None or isinstance(model, MLPWorldModel)
    if backend != "auto" and backend != "torch" and backend in BACKENDS and not fused_ok:
        raise BackendUnavailable(f"backend {backend!r} serves MLPWorldModel only; "
                                 f"use backend='torch' for a {type(model).__name__}")
    return _resolve(backend, torch.device(device).type, fused_ok)


@constant_under_compile
def _resolve(backend: str, device_type: str, fused_ok: bool) -> str:
    """resolve() for a device type. Under torch.compile it runs once while tracing and its
    result is a constant of the graph: finding backends (imports, loading the extension)
    stays out of the traced code."""
    device = torch.device(device_type)
    if backend == "auto":
        for name in _AUTO_ORDER.get(device_type, ("torch",)):
            if (name == "torch" or fused_ok) and unavailable_reason(name, device) is None:
                return name
        return "torch"
    reason = unavailable_reason(backend, device)
    if reason is not None:
        raise BackendUnavailable(f"backend {backend!r} is unavailable: {reason}")
    return backend

