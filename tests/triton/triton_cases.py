"""Shared set-up of the Triton tests here: the skip when Triton cannot run, the plan tolerance.

(The op tests of every backend, Triton's included, are in tests/ops/.)
"""
import pytest

from helpers import DEVICE
from wmkernels import _backend

TOL = 1e-5
REASON = _backend.unavailable_reason("triton", DEVICE)
requires_triton = pytest.mark.skipif(REASON is not None, reason=f"triton backend: {REASON}")


def plan_tolerance(err32):
    """Whole plans amplify rounding (softmax weights, Adam's normalisation): allow the larger of
    TOL and twice the error of the same plan computed by the naive op in float32."""
    return max(TOL, 2.0 * err32)
