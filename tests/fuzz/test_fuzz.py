"""A few seconds of the differential fuzzer (fuzz_ops.py) in the test suite: random cases of
every op on the torch and cpp backends (and two on triton, interpreted) against the float64
NumPy reference. `make fuzz` runs 1000 cases per backend."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_ops  # noqa: E402
from helpers import available_backends  # noqa: E402


@pytest.mark.parametrize("backend,cases", [("torch", 40), ("cpp", 40), ("triton", 2)])
def test_random_cases_match_the_reference(backend, cases):
    if backend not in available_backends("cpu"):
        pytest.skip(f"{backend} backend unavailable here")
    lines = []
    counts = fuzz_ops.fuzz(cases, seed=2024, backends=[backend], show=5, out=lines.append)
    failures = [line for line in lines if line.startswith("FAIL")]
    assert counts[backend] == (cases, 0), "\n".join(failures)


def test_the_reference_draws_are_the_library_draws():
    """reference.normal (NumPy, from docs/random.md) equals wmkernels._random bit for bit."""
    import numpy as np
    from wmkernels import _random
    got = fuzz_ops.reference.normal(2**32 - 3, 2, 5, 3, 7, 4, 5)
    want = _random.normal_block(2**32 - 3, 2, 5, 3, 7, 4, 5).double().numpy()
    assert np.array_equal(got, want)
