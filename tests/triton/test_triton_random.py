"""The in-kernel Philox normal (wmkernels.ops._triton.device.normal_draw) equals wmkernels._random."""
import pytest
import torch

from triton_cases import requires_triton
from wmkernels import _random

pytestmark = requires_triton


triton = pytest.importorskip("triton")
tl = triton.language
lib = pytest.importorskip("wmkernels.ops._triton.device")


@triton.jit
def _normal_kernel(out_ptr, key, step, p, n0, i0, BN: tl.constexpr, BI: tl.constexpr):
    """out[r, c] = normal(seed, stream, step, p, n0 + r, i0 + c)."""
    rn = tl.arange(0, BN)
    ri = tl.arange(0, BI)
    n = n0 + rn[:, None] + tl.zeros([BN, BI], dtype=tl.int32)
    i = i0 + ri[None, :] + tl.zeros([BN, BI], dtype=tl.int32)
    tl.store(out_ptr + rn[:, None] * BI + ri[None, :], lib.normal_draw(key, step, p, n, i))


@pytest.mark.parametrize("seed,stream,step,p,n0,i0", [
    (0, _random.STREAM_NOISE, 0, 0, 0, 0),
    (12345, _random.STREAM_SAMPLE, 7, 3, 5, 40),
    (2**32 - 1, _random.STREAM_INIT, 2**31 - 1, 2**31 - 2, 2**20, 2**24),
], ids=["zero", "typical", "extreme"])
def test_normal_draw_matches_the_reference_generator(seed, stream, step, p, n0, i0, device):
    out = torch.full((16, 64), float("nan"), device=device)
    _normal_kernel[(1,)](out, seed + (stream << 32), step, p, n0, i0, BN=16, BI=64)
    ref = _random.normal(seed, stream, step, torch.tensor(p), torch.arange(n0, n0 + 16).view(16, 1),
                         torch.arange(i0, i0 + 64).view(1, 64))
    # same Philox words; Box-Muller differs only by float32 rounding of log/cos
    assert torch.allclose(out.cpu(), ref, atol=2e-6, rtol=1e-5)
