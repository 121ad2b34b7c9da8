"""Input checks shared by every op and planner: each error names the argument.

Two kinds of check:
- structure (type, rank, shape, dtype, device, Python numbers): read only metadata, so they
  always run, also under torch.compile and CUDA-graph capture;
- values of tensors (no NaN/Inf, bounds, lo <= hi, std >= 0, ...): reading a tensor's values
  on the host synchronises its device, so these run only while `value_checks_active()`:
  switched on (the default; `set_value_checks`, `value_checks`, env WMK_VALUE_CHECKS=0), not
  under torch.compile and not while a CUDA stream is capturing a graph
  (docs/backends.md, "Value checks and host synchronisation").
"""
import contextlib
import math
import os

import torch

_value_checks = os.environ.get("WMK_VALUE_CHECKS", "1") != "0"


def set_value_checks(enabled: bool) -> None:
    """Switch the value checks of tensors on or off for the whole process."""
    global _value_checks
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    _value_checks = enabled


def value_checks_enabled() -> bool:
    """The switch of set_value_checks (on unless WMK_VALUE_CHECKS=0 or switched off)."""
    return _value_checks


@contextlib.contextmanager
def value_checks(enabled: bool):
    """Run a block with the value checks switched on or off; the previous state comes back after."""
    before = _value_checks
    set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(before)


def can_sync() -> bool:
    """Whether the host may wait for the device now: not under torch.compile, and no CUDA
    stream capturing a graph."""
    if torch.compiler.is_compiling():
        return False
    return not (torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing())


def value_checks_active() -> bool:
    """Whether tensor value checks run now: can_sync() and switched on."""
    return can_sync() and _value_checks


def check_values(condition, message: str) -> None:
    """A value check: raise ValueError(message) unless condition() (a bool tensor) is all true.
    condition is called only while value_checks_active(); reading its result syncs the device."""
    if value_checks_active() and not bool(condition().all()):
        raise ValueError(message)


def tensor(name: str, x, *, ndim=None, dtype=None, device=None, finite=True) -> torch.Tensor:
    """Check that x is a floating tensor of the given rank, dtype and device, and (a value
    check) with no NaN/Inf if finite."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype}, expected {dtype} (the model's dtype)")
    if device is not None and x.device != torch.device(device):
        raise ValueError(f"{name} is on {x.device}, expected {device} (the model's device)")
    if x.is_meta:
        raise ValueError(f"{name} is on the meta device, which holds no values")
    if finite:
        check_values(lambda: torch.isfinite(x), f"{name} contains NaN or Inf")
    return x


def shape(name: str, x: torch.Tensor, expected) -> None:
    """Check x.shape against expected, where None in expected matches any size."""
    ok = x.dim() == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        want = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} must have shape {want}, got {list(x.shape)}")


def positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def finite_float(name: str, value, *, minimum=None, strict=False, maximum=None) -> float:
    """Check that value is a finite real number within [minimum, maximum] (open at minimum if strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {value!r}")
    return value


class NonFiniteError(ValueError):
    """A plan whose cost or actions hold NaN or Inf; `problems` lists the problem indices."""

    def __init__(self, message: str, problems):
        super().__init__(message)
        self.problems = list(problems)


def finite_plan(actions: torch.Tensor, cost: torch.Tensor) -> None:
    """A value check of a plan (actions [P, T, A], cost [P]): raise NonFiniteError naming the
    problems whose cost or actions are not finite. Runs only while value_checks_active()."""
    if not value_checks_active():
        return
    P = cost.shape[0]
    bad = ~(torch.isfinite(cost) & torch.isfinite(actions.reshape(P, -1)).all(dim=1))
    if bool(bad.any()):
        problems = bad.nonzero().flatten().tolist()
        shown = ", ".join(map(str, problems[:10])) + (", ..." if len(problems) > 10 else "")
        raise NonFiniteError(
            f"the plan's cost or actions are NaN or Inf for {len(problems)} of {P} problems ({shown}): the "
            f"model's predicted states overflow or turn NaN along the plan; check the model, z0 and goal "
            f"(with value checks off, wmkernels.set_value_checks(False), plan() returns such plans as they are)",
            problems)
