"""csrc/philox.h against wmkernels/_random.py: equal uint32 words, equal normals (float32)."""
import pytest
import torch

from wmkernels import _random

from cpp_helpers import poison  # noqa: F401  (autouse fixture)
from cpp_helpers import cpp_reason

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))


def counters(M, seed=0):
    gen = torch.Generator().manual_seed(seed)
    c = torch.randint(0, 2**32, (M, 4), generator=gen, dtype=torch.int64)
    c[:16] = torch.arange(16)[:, None]  # small counters: the common case
    c[16:32] = 2**32 - 1 - torch.arange(16)[:, None]  # the top of the range
    return c


@pytest.mark.parametrize("seed,stream", [(0, 0), (1, 1), (2**32 - 1, 2), (123456789, 7)])
def test_words_equal(seed, stream):
    from wmkernels import _extension as ext
    c = counters(4096, seed % 1000)
    ext.module()
    got = torch.ops.wmkernels.philox_words(c, seed, stream)
    ref = torch.stack(_random.philox4x32(c[:, 0], c[:, 1], c[:, 2], c[:, 3], seed, stream), dim=1)
    assert torch.equal(got, ref)


@pytest.mark.parametrize("seed,stream", [(0, 0), (5, 1), (2**32 - 1, 2)])
def test_normals_equal(seed, stream):
    from wmkernels import _extension as ext
    c = counters(8192, 3)
    c[:, 3] %= 4  # a few steps
    ext.module()
    got = torch.ops.wmkernels.philox_normal(c, seed, stream)
    # counters are (i, n, p, step): normal() takes step as a scalar, so compare per step
    steps = c[:, 3]
    ref = torch.empty_like(got)
    for step in steps.unique().tolist():
        rows = steps == step
        ref[rows] = _random.normal(seed, stream, int(step), c[rows, 2], c[rows, 1], c[rows, 0])
    assert got.dtype == torch.float32
    assert torch.isfinite(got).all()
    # The words are equal; log/cos may differ by an ulp between libm and torch.
    torch.testing.assert_close(got, ref, rtol=2e-6, atol=2e-6)
