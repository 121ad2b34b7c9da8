"""@triton.jit device functions shared by the kernels (inlined into them).

- ``activation`` / ``activation_grad``: the activations of wmkernels.activations and their
  derivatives at the pre-activation, selected by the constexpr ACT, an id of
  wmkernels.activations.IDS (tests/test_activations.py pins the two tables together).
- ``normal_draw``: the counter-based normal of wmkernels._random (docs/random.md).
- ``mm``: one chunked matrix product acc += X @ W[:, cols] whose left operand is read from
  memory in [BN, BK] chunks.
"""
import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    """tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|) (no overflow for any x)."""
    e = tl.exp(-2.0 * tl.abs(x))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(x < 0, -t, t)


@triton.jit
def activation(x, ACT: tl.constexpr):
    """relu | silu | gelu (tanh form) | tanh | elu, by ACT = 0..4."""
    if ACT == 0:
        y = tl.maximum(x, 0.0)
    elif ACT == 1:
        y = x / (1.0 + tl.exp(-x))
    elif ACT == 2:
        y = 0.5 * x * (1.0 + _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    elif ACT == 3:
        y = _tanh(x)
    else:
        y = tl.where(x > 0, x, tl.exp(tl.minimum(x, 0.0)) - 1.0)
    return y


@triton.jit
def activation_grad(x, ACT: tl.constexpr):
    """d act / dx at the pre-activation x (see wmkernels/activations.py)."""
    if ACT == 0:
        d = tl.where(x > 0, 1.0, 0.0)
    elif ACT == 1:
        s = 1.0 / (1.0 + tl.exp(-x))
        d = s * (1.0 + x * (1.0 - s))
    elif ACT == 2:
        th = _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
        d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x)
    elif ACT == 3:
        th = _tanh(x)
        d = 1.0 - th * th
    else:
        d = tl.where(x > 0, 1.0, tl.exp(tl.minimum(x, 0.0)))
    return d


@triton.jit
def _unit(x):
    """uint32 -> [0, 1): |int32(x)| (-x - 1 for negative x) times 2^-31, as tl.rand does."""
    s = x.to(tl.int32, bitcast=True)
    s = tl.where(s < 0, ~s, s)      # ~s == -s - 1, without the int32 overflow at -2^31
    return s.to(tl.float32) * 4.6566127342e-10


@triton.jit
def _cos_2pi(u):
    """cos(2 pi u) for u in [0, 1), without a libdevice call (whose huge-argument path needs local
    memory): u = k/4 + r with |r| <= 1/8, theta = 2 pi r in [-pi/4, pi/4], then the quadrant's
    cos/sin Taylor polynomial (truncation error < 3e-8)."""
    k = tl.floor(u * 4.0 + 0.5)
    th = (u - k * 0.25) * 6.283185307179586
    t2 = th * th
    c = 1.0 + t2 * (-0.5 + t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40320.0))))
    s = th * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0)))))
    q = k.to(tl.int32) % 4
    return tl.where(q == 0, c, tl.where(q == 1, -s, tl.where(q == 2, -c, s)))


@triton.jit
def normal_draw(key, step, p, n, i):
    """Standard normal draws z(seed, stream, step, p, n, i) of wmkernels._random.

    key = seed + (stream << 32) (Philox key words (seed, stream)); n, i int32 tensors of one
    shape (candidate, element t*A + a); p, step scalars. Philox4x32-10 on the counter
    (i, n, p, step), then z = sqrt(-2 log max(u(x0), 1e-7)) cos(2 pi u(x1)).
    """
    zero = tl.zeros_like(i)
    x0, x1, _, _ = tl.philox(key, i, n + zero, zero + p, zero + step)
    u1 = tl.maximum(_unit(x0), 1.0e-7)
    u2 = _unit(x1)
    return tl.sqrt(-2.0 * tl.log(u1)) * _cos_2pi(u2)


@triton.jit
def mm(acc, x_ptr, stride_xn, n_lim, k_lim, w_ptr, stride_wk, col0,
        K: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr, BC: tl.constexpr, PREC: tl.constexpr):
    """acc[BN, BC] += X[:BN, :K] @ W[:K, col0:col0+BC].

    X rows at stride_xn (rows >= n_lim and columns >= k_lim read as 0); W row-major, padded.
    With BN >= 16 rows each chunk is a tl.dot; with fewer (tl.dot needs 16) each chunk is
    multiplied and summed over K on the FMA units, so no padding rows are computed.
    """
    rn = tl.arange(0, BN)
    rk = tl.arange(0, BK)
    rc = col0 + tl.arange(0, BC)
    for k0 in range(0, K, BK):
        kk = k0 + rk
        x = tl.load(x_ptr + rn[:, None] * stride_xn + kk[None, :],
                    mask=(rn[:, None] < n_lim) & (kk[None, :] < k_lim), other=0.0)
        w = tl.load(w_ptr + kk[:, None] * stride_wk + rc[None, :])
        if BN < 16:
            acc += tl.sum(x[:, :, None] * w[None, :, :], axis=1)
        else:
            acc = tl.dot(x, w, acc, input_precision=PREC)
    return acc
