"""Counter-based normal draws shared by every backend (docs/random.md).

A draw is Philox4x32-10 (Salmon et al., SC'11) with

    key     = (seed, stream)             # two uint32 words
    counter = (i, n, p, step)            # element, candidate, problem, iteration

followed by Box-Muller on the first two output words:

    u1 = max(int32(x0) mapped to [0, 1), 1e-7),  u2 = int32(x1) mapped to [0, 1)    (float32)
    z  = float32(sqrt(-2 log u1) * cos(2 pi u2))                                   (float64)

where "int32(x) mapped to [0, 1)" is |x| (with -x - 1 for negative x) times 2^-31, as in
Triton's ``tl.rand``. The log, the square root and the cosine are evaluated in float64 and z is
rounded to float32 once; the cosine is a fixed sequence of float64 multiplications and
additions (``cos_2pi``), so every backend computes it with the same operations. Triton
kernels use ``tl.philox(seed + (stream << 32), i, n, p, step)``; csrc/philox.h implements the
same rounds and transform for the CPU and CUDA kernels.
"""
import math

import torch

_MASK32 = 0xFFFFFFFF
_ROUND_A, _ROUND_B = 0xD2511F53, 0xCD9E8D57
_KEY_A, _KEY_B = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10

# Streams: which part of a planner a draw feeds.
STREAM_INIT = 0      # random initial action sequences
STREAM_NOISE = 1     # noise added after each gradient step
STREAM_SAMPLE = 2    # CEM / MPPI candidate samples


def _mulhilo(a: torch.Tensor, constant: int):
    """High and low 32-bit words of a * constant for uint32 a held in int64."""
    low_product = a * (constant & 0xFFFF)
    high_product = a * (constant >> 16)
    hi = ((low_product >> 16) + high_product) >> 16
    lo = (low_product + ((high_product & 0xFFFF) << 16)) & _MASK32
    return hi, lo


def philox4x32(c0, c1, c2, c3, k0: int, k1: int, rounds: int = ROUNDS):
    """Philox4x32 on int64 tensors holding uint32 words; returns four int64 tensors."""
    for _ in range(rounds):
        hi_b, lo_b = _mulhilo(c2, _ROUND_B)
        hi_a, lo_a = _mulhilo(c0, _ROUND_A)
        c0, c1, c2, c3 = hi_b ^ c1 ^ k0, lo_b, hi_a ^ c3 ^ k1, lo_a
        k0 = (k0 + _KEY_A) & _MASK32
        k1 = (k1 + _KEY_B) & _MASK32
    return c0, c1, c2, c3


def _uint32_to_unit(x: torch.Tensor) -> torch.Tensor:
    signed = torch.where(x >= 2**31, x - 2**32, x)
    signed = torch.where(signed < 0, -signed - 1, signed)
    return signed.to(torch.float32) * 4.6566127342e-10


TWO_PI = 6.283185307179586   # 2 pi rounded to float64
# Taylor coefficients (-1)^j / (2j)! and (-1)^j / (2j+1)!, j = 0..8, rounded to float64:
# on |theta| <= pi/4 the first omitted terms are below 2e-18 (cos) and 1e-19 theta (sin).
COS_COEFFS = tuple((-1) ** j / math.factorial(2 * j) for j in range(9))
SIN_COEFFS = tuple((-1) ** j / math.factorial(2 * j + 1) for j in range(9))


def cos_2pi(u: torch.Tensor) -> torch.Tensor:
    """cos(2 pi u) in float64 for float64 u in [0, 1) holding float32 values.

    u = k/4 + r with k = floor(4u + 1/2) and |r| <= 1/8 (both exact), theta = r * TWO_PI, then
    the Taylor polynomials of cos and sin in theta^2 by Horner (one multiplication and one
    addition per coefficient, each rounded) and the quadrant k mod 4:
    cos(2 pi u) = cos(theta), -sin(theta), -cos(theta), sin(theta).
    """
    k = torch.floor(u * 4.0 + 0.5)
    theta = (u - 0.25 * k) * TWO_PI
    t2 = theta * theta
    c = torch.full_like(t2, COS_COEFFS[-1])
    s = torch.full_like(t2, SIN_COEFFS[-1])
    for a, b in zip(reversed(COS_COEFFS[:-1]), reversed(SIN_COEFFS[:-1])):
        c = t2 * c + a
        s = t2 * s + b
    s = theta * s
    q = k.to(torch.int64) % 4
    return torch.where(q == 0, c, torch.where(q == 1, -s, torch.where(q == 2, -c, s)))


def normal(seed: int, stream: int, step: int, p, n, i) -> torch.Tensor:
    """Standard normal float32 draws for broadcastable int64 index tensors p, n, i."""
    if not 0 <= seed <= _MASK32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    p, n, i = torch.broadcast_tensors(p, n, i)
    step_t = torch.full_like(p, step)
    x0, x1, _, _ = philox4x32(i, n, p, step_t, seed, stream)
    return box_muller(x0, x1)


def box_muller(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """float32(sqrt(-2 log u1) cos(2 pi u2)) in float64, u1 = max(unit(x0), 1e-7), u2 = unit(x1)
    (float32 uniforms), for int64 tensors x0, x1 of Philox words."""
    u1 = torch.clamp(_uint32_to_unit(x0), min=1.0e-7).double()
    u2 = _uint32_to_unit(x1).double()
    return (torch.sqrt(-2.0 * torch.log(u1)) * cos_2pi(u2)).to(torch.float32)


def normal_block(seed: int, stream: int, step: int, P: int, N: int, T: int, A: int,
                 device=None, candidate_offset: int = 0) -> torch.Tensor:
    """Draws [P, N, T, A] keyed by (p, n + candidate_offset, t * A + a)."""
    p = torch.arange(P, device=device, dtype=torch.int64).view(P, 1, 1)
    n = torch.arange(candidate_offset, candidate_offset + N, device=device,
                     dtype=torch.int64).view(1, N, 1)
    i = torch.arange(T * A, device=device, dtype=torch.int64).view(1, 1, T * A)
    return normal(seed, stream, step, p, n, i).view(P, N, T, A)
