"""Shared test set-up.

Triton kernels run on CPU tensors under the interpreter, so TRITON_INTERPRET=1 is set
before anything imports triton, unless WMK_TEST_DEVICE=cuda asks for a real GPU run.
The `device` fixture is the device the tests put tensors on; `fused_backend` runs a test
once per fused backend available for that device (triton, cpp, cuda).
"""
import os

DEVICE = os.environ.get("WMK_TEST_DEVICE", "cpu")
if DEVICE == "cpu":
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from wmkernels import _backend  # noqa: E402

torch.set_num_threads(1)  # tiny ops: threads only add contention on a shared machine


def available_backends(device=DEVICE, family=None):
    return [b for b in _backend.BACKENDS if _backend.unavailable_reason(b, device, family) is None]


def planner_backends(device=DEVICE):
    """Backends that implement every op family the planners use."""
    return [b for b in available_backends(device)
            if all(_backend.unavailable_reason(b, device, f) is None for f in ("rollouts", "gbp", "sampling"))]


def fused_backends(device=DEVICE, family=None):
    return [b for b in available_backends(device, family) if b != "torch"]


@pytest.fixture
def device():
    return torch.device(DEVICE)


def pytest_report_header(config):
    lines = [f"wmkernels test device: {DEVICE}"]
    for b in _backend.BACKENDS:
        reason = _backend.unavailable_reason(b, DEVICE)
        lines.append(f"  backend {b}: {'available' if reason is None else reason}")
    return lines
