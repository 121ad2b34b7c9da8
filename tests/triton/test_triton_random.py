"""The in-kernel Philox normal (wmkernels.ops._triton.device.normal_draw) equals wmkernels._random
bit for bit. WMK_RANDOM_DRAWS sets the size of the large comparison (2^20 by default; `make
fuzz`: 10^7, one launch)."""
import os

import pytest
import torch

from triton_cases import requires_triton
from wmkernels import _random

pytestmark = requires_triton

DRAWS = int(os.environ.get("WMK_RANDOM_DRAWS", 2**20))

triton = pytest.importorskip("triton")
tl = triton.language
lib = pytest.importorskip("wmkernels.ops._triton.device")


@triton.jit
def _normal_kernel(out_ptr, key, step, p, n0, i0, BN: tl.constexpr, BI: tl.constexpr):
    """out[r, c] = normal(seed, stream, step, p, n0 + r, i0 + c), rows r in blocks of BN per program."""
    rn = tl.program_id(0) * BN + tl.arange(0, BN)
    ri = tl.arange(0, BI)
    n = n0 + rn[:, None] + tl.zeros([BN, BI], dtype=tl.int32)
    i = i0 + ri[None, :] + tl.zeros([BN, BI], dtype=tl.int32)
    tl.store(out_ptr + rn[:, None] * BI + ri[None, :], lib.normal_draw(key, step, p, n, i))


def draws(seed, stream, step, p, n0, i0, rows, BN, BI, device):
    """(kernel, reference) draws [rows, BI]; rows a multiple of BN."""
    out = torch.full((rows, BI), float("nan"), device=device)
    _normal_kernel[(rows // BN,)](out, seed + (stream << 32), step, p, n0, i0, BN=BN, BI=BI)
    ref = _random.normal(seed, stream, step, torch.tensor(p), torch.arange(n0, n0 + rows).view(rows, 1),
                         torch.arange(i0, i0 + BI).view(1, BI))
    return out.cpu(), ref


def bits(x):
    return x.contiguous().view(torch.int32)


@pytest.mark.parametrize("seed,stream,step,p,n0,i0", [
    (0, _random.STREAM_NOISE, 0, 0, 0, 0),
    (12345, _random.STREAM_SAMPLE, 7, 3, 5, 40),
    (2**32 - 1, _random.STREAM_INIT, 2**31 - 1, 2**31 - 2, 2**20, 2**24),
], ids=["zero", "typical", "extreme"])
def test_normal_draw_matches_the_reference_generator(seed, stream, step, p, n0, i0, device):
    out, ref = draws(seed, stream, step, p, n0, i0, 16, 16, 64, device)
    assert torch.equal(bits(out), bits(ref))


def test_many_normal_draws_are_bit_equal(device):
    """DRAWS normals in one launch (1024 x 1024 per program) against the reference."""
    BN, BI = 1024, 1024
    rows = -(-DRAWS // BI // BN) * BN
    out, ref = draws(2**31 + 17, _random.STREAM_SAMPLE, 3, 11, 0, 0, rows, BN, BI, device)
    mismatches = int((bits(out) != bits(ref)).sum())
    assert mismatches == 0, f"{mismatches} of {out.numel()} draws differ"
