"""csrc/philox.h against wmkernels/_random.py: equal uint32 words, bit-equal float32 normals.

WMK_RANDOM_DRAWS sets how many normals are compared (2^20 by default; `make fuzz`: 10^7)."""
import os

import pytest
import torch

import wmkernels as wmk
from wmkernels import _random

from cpp_helpers import poison  # noqa: F401  (autouse fixture)
from cpp_helpers import cpp_reason

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))

DRAWS = int(os.environ.get("WMK_RANDOM_DRAWS", 2**20))
CHUNK = 2**20


def counters(M, seed=0):
    gen = torch.Generator().manual_seed(seed)
    c = torch.randint(0, 2**32, (M, 4), generator=gen, dtype=torch.int64)
    c[:16] = torch.arange(16)[:, None]  # small counters: the common case
    c[16:32] = 2**32 - 1 - torch.arange(16)[:, None]  # the top of the range
    return c


def bits(x):
    return x.contiguous().view(torch.int32)


def extension_ops():
    from wmkernels import _extension
    _extension.module()      # loads the extension: registers torch.ops.wmkernels.philox_*
    return torch.ops.wmkernels


@pytest.mark.parametrize("seed,stream", [(0, 0), (1, 1), (2**32 - 1, 2), (123456789, 7)])
def test_words_equal(seed, stream):
    c = counters(4096, seed % 1000)
    got = extension_ops().philox_words(c, seed, stream)
    ref = torch.stack(_random.philox4x32(c[:, 0], c[:, 1], c[:, 2], c[:, 3], seed, stream), dim=1)
    assert torch.equal(got, ref)


@pytest.mark.parametrize("seed,stream", [(0, 0), (5, 1), (2**32 - 1, 2)])
def test_normals_equal_bit_for_bit(seed, stream):
    """DRAWS normals at random counters over the whole uint32 range (and the smallest and
    largest): the same float32 bits as the reference."""
    ops = extension_ops()
    mismatches = 0
    for start in range(0, DRAWS, CHUNK):
        c = counters(min(CHUNK, DRAWS - start), seed=start + stream)
        got = ops.philox_normal(c, seed, stream)
        x0, x1, _, _ = _random.philox4x32(c[:, 0], c[:, 1], c[:, 2], c[:, 3], seed, stream)
        assert got.dtype == torch.float32 and bool(torch.isfinite(got).all())
        mismatches += int((bits(got) != bits(_random.box_muller(x0, x1))).sum())
    assert mismatches == 0, f"{mismatches} of {DRAWS} draws differ"


@pytest.mark.parametrize("isa", ["base", "avx2", "avx512"])
def test_plan_kernels_draw_the_reference_normals(isa, monkeypatch):
    """The noise of the CPU GBP kernel, compiled per instruction set (WMK_CPU_ISA lowers the
    choice), is the reference's to the
    bit: float32 SGD from zero actions with lr = 1e-30 and noise = 1 leaves the first iterate's
    noise draw (the gradient step is below half an ulp of every draw)."""
    monkeypatch.setenv("WMK_CPU_ISA", isa)
    P, N, T, A, D = 3, 1, 40, 7, 2
    gen = torch.Generator().manual_seed(4)
    weights = [torch.randn(D + A, 5, generator=gen), torch.randn(5, D, generator=gen)]
    model = wmk.MLPWorldModel(weights, [torch.zeros(5), torch.zeros(D)], "tanh")
    obj = wmk.Objective(lo=float("-inf"), hi=float("inf"))
    z0, goal = torch.randn(P, D, generator=gen), torch.randn(P, D, generator=gen)
    init = torch.zeros(P, N, T, A)
    actions, _, _ = wmk.ops.gbp_plan(model, z0, goal, obj, init, iters=1, lr=1e-30, optimizer="sgd",
                                     noise=1.0, seed=2**32 - 5, backend="cpp")
    ref = _random.normal_block(2**32 - 5, _random.STREAM_NOISE, 0, P, N, T, A)[:, 0]
    assert torch.equal(bits(actions), bits(ref))
