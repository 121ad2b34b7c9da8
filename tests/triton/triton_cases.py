"""Shared set-up of the float32 kernel tests: the backends under test, skips, NaN poisoning, tolerances.

The float32 kernels are Triton's (interpreted on CPU, compiled on a GPU) and, with
WMK_TEST_DEVICE=cuda, the CUDA extension's: the `backend` fixture runs a test on each.
"""
import pytest
import torch

from helpers import DEVICE
from wmkernels import _backend

TOL = 1e-5
REASON = _backend.unavailable_reason("triton", DEVICE)
requires_triton = pytest.mark.skipif(REASON is not None, reason=f"triton backend: {REASON}")
FLOAT32_BACKENDS = ["triton"] + (["cuda"] if DEVICE == "cuda" else [])


@pytest.fixture(params=FLOAT32_BACKENDS)
def backend(request):
    """A float32 kernel backend; one that cannot run here is skipped with its reason."""
    reason = _backend.unavailable_reason(request.param, DEVICE)
    if reason is not None:
        pytest.skip(f"{request.param} backend: {reason}")
    return request.param


@pytest.fixture
def poison(monkeypatch):
    """Every output buffer of the Triton launchers and of the CUDA extension starts as NaN
    (unwritten elements fail)."""
    from wmkernels.ops import _triton_lib
    monkeypatch.setattr(_triton_lib, "POISON", True)
    monkeypatch.setenv("WMK_POISON", "1")
    return True


def plan_tolerance(err32):
    """Whole plans amplify rounding (softmax weights, Adam's normalisation): allow the larger of
    TOL and twice the error of the same plan computed by the naive op in float32."""
    return max(TOL, 2.0 * err32)


def objective_kwargs(kind, T, D, A, seed=5):
    """Objective settings by name: last | all | weights | q | penalty | bounds (or a '+' mix)."""
    gen = torch.Generator().manual_seed(seed)
    kw = dict(lo=float("-inf"), hi=float("inf"))
    for part in kind.split("+"):
        if part == "last":
            kw["mode"] = "last"
        elif part == "all":
            kw.update(mode="all", base=0.6)
        elif part == "weights":
            kw["weights"] = (torch.rand(T, generator=gen, dtype=torch.float64) + 0.1).tolist()
        elif part == "q":
            kw["q"] = torch.rand(D, generator=gen, dtype=torch.float64).tolist()
        elif part == "penalty":
            kw["action_penalty"] = 0.05
        elif part == "bounds":
            lo = -0.2 - torch.rand(A, generator=gen, dtype=torch.float64)
            kw.update(lo=lo.tolist(), hi=(lo + 0.9).tolist())
        else:
            raise ValueError(part)
    return kw
