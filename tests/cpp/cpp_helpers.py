"""Helpers of the C++ extension tests (imported as a plain module: tests/ is no package).

Test modules import `poison` from here: an autouse fixture filling the CPU kernels' outputs
and scratch with NaN (WMK_POISON=1, csrc/cpu/cpu_common.h new_output), so an element the
kernels forget to write shows up. (No conftest.py here: it would shadow tests/conftest.py.)
"""
import pytest
from wmkernels import _backend


@pytest.fixture(autouse=True)
def poison(monkeypatch):
    monkeypatch.setenv("WMK_POISON", "1")


def cpp_reason():
    return _backend.unavailable_reason("cpp", "cpu")
