"""Fixtures of the op tests: the backend under test, NaN poisoning of the kernels' outputs."""
import pytest
import torch

from cases import require
from wmkernels import _backend

# Triton's two sampling paths, as entries of the `sampling_backend` fixture.
TRITON_SAMPLING_PATHS = {"triton-fused": 1, "triton-multi": 10**9}


@pytest.fixture(params=_backend.BACKENDS)
def backend(request):
    """Every backend in turn; one that cannot run on helpers.DEVICE is skipped with its reason."""
    return require(request.param)


@pytest.fixture(params=[b for name in _backend.BACKENDS
                        for b in (TRITON_SAMPLING_PATHS if name == "triton" else [name])])
def sampling_backend(request, monkeypatch):
    """Every backend, Triton twice: its one-launch plan and its launch-per-iteration path."""
    name = request.param.split("-")[0]
    require(name)
    if request.param in TRITON_SAMPLING_PATHS:
        monkeypatch.setattr("wmkernels.ops.sampling.triton.FUSED_MIN_PROBLEMS",
                            TRITON_SAMPLING_PATHS[request.param], raising=False)
    return name


@pytest.fixture(autouse=True)
def poison(monkeypatch):
    """Every output and scratch buffer of the kernels starts as NaN, so an element a kernel
    forgets to write fails the comparison (WMK_POISON=1, read at every launch)."""
    monkeypatch.setenv("WMK_POISON", "1")


@pytest.fixture
def threads():
    """Set torch's CPU thread count for one test: threads(n); restored afterwards."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)
