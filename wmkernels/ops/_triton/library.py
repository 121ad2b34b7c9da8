"""Registration of the Triton implementations of the fused ops (wmkernels::triton_<op>).

`implements(op)` registers a function taking the op's arguments (wmkernels/ops/schema.py) as
the implementation of wmkernels::triton_<op> for every device. Around the function it:
- makes the current CUDA device the tensors' device (a launch goes to the current device),
- makes every tensor argument contiguous, except the ones the op mutates (those must be).
"""
import contextlib

import torch

from .. import schema
from . import interpreter, settings

if settings.INTERPRET:
    interpreter.speed_up()


def _contiguous(x):
    if isinstance(x, torch.Tensor):
        return x.contiguous()
    if isinstance(x, (list, tuple)):
        return type(x)(_contiguous(t) for t in x)
    return x


def _device_of(args):
    for x in args:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def implements(op: str, mutated=()):
    """Decorator: register fn as the Triton implementation of `op`; `mutated` names the
    positions of the arguments the op writes in place (left as they are, and checked)."""
    schema.define()

    def register(fn):
        def guarded(*args):
            for i in mutated:
                if not args[i].is_contiguous():
                    raise ValueError(f"argument {i} of triton_{op} is written in place and must be contiguous")
            args = tuple(a if i in mutated else _contiguous(a) for i, a in enumerate(args))
            device = _device_of(args)
            guard = torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
            with guard:
                return fn(*args)

        guarded.__name__ = guarded.__qualname__ = f"triton_{op}"
        guarded.__doc__ = fn.__doc__
        torch.library.impl(schema.qualname(op, "triton"), ("cpu", "cuda"))(guarded)
        return fn

    return register
