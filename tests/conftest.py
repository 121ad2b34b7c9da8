"""Shared test set-up.

Triton kernels run on CPU tensors under the interpreter, so TRITON_INTERPRET=1 is set
before anything imports triton, unless WMK_TEST_DEVICE=cuda asks for a real GPU run.
The `device` fixture is the device the tests put tensors on (helpers.DEVICE).
"""
import os

if os.environ.get("WMK_TEST_DEVICE", "cpu") == "cpu":
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import DEVICE  # noqa: E402,F401
from wmkernels import _backend  # noqa: E402

torch.set_num_threads(1)  # tiny ops: threads only add contention on a shared machine


@pytest.fixture
def device():
    return torch.device(DEVICE)


def pytest_report_header(config):
    lines = [f"wmkernels test device: {DEVICE}"]
    for b in _backend.BACKENDS:
        reason = _backend.unavailable_reason(b, DEVICE)
        lines.append(f"  backend {b}: {'available' if reason is None else reason}")
    return lines
