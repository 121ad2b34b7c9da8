"""@triton.jit device functions shared by the kernels (inlined into them).

- ``activation`` / ``activation_grad``: the activations of wmkernels.activations and their
  derivatives at the pre-activation, selected by the constexpr ACT, an id of
  wmkernels.activations.IDS (tests/test_activations.py pins the two tables together).
- ``normal_draw``: the counter-based normal of wmkernels._random (docs/random.md), with the
  same float64 operations.
- ``mm``: one chunked matrix product acc += X @ W[:, cols] whose left operand is read from
  memory in [BN, BK] chunks.
"""
import triton
import triton.language as tl

from . import settings

_INTERPRET = tl.constexpr(settings.INTERPRET)


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
def _mul_add_rn(x, y, z):
    """x * y + z in float64 with two roundings, as torch computes it. On a GPU explicit mul.rn
    and add.rn, which ptxas never fuses into an FMA; numpy arithmetic under the interpreter."""
    if _INTERPRET:
        r = x * y + z
    else:
        p = tl.inline_asm_elementwise("mul.rn.f64 $0, $1, $2;", "=d,d,d", [x, y],
                                      dtype=tl.float64, is_pure=True, pack=1)
        r = tl.inline_asm_elementwise("add.rn.f64 $0, $1, $2;", "=d,d,d", [p, tl.zeros_like(p) + z],
                                      dtype=tl.float64, is_pure=True, pack=1)
    return r


@triton.jit
def _sqrt_rn(x):
    """Correctly rounded float64 square root (explicit sqrt.rn on a GPU)."""
    if _INTERPRET:
        r = tl.sqrt(x)
    else:
        r = tl.inline_asm_elementwise("sqrt.rn.f64 $0, $1;", "=d,d", [x], dtype=tl.float64, is_pure=True, pack=1)
    return r


@triton.jit
def _cos_2pi(u):
    """cos(2 pi u) in float64 for float64 u in [0, 1) holding float32 values: the operations of
    wmkernels._random.cos_2pi (u = k/4 + r, theta = 2 pi r, Taylor polynomials of cos and sin
    to degree 16 and 17 by Horner, the quadrant k mod 4). No libdevice call, whose
    huge-argument path needs local memory."""
    k = tl.floor(u * 4.0 + 0.5)
    th = (u - 0.25 * k) * 6.283185307179586
    t2 = th * th
    c = _mul_add_rn(t2, tl.zeros_like(t2) + 4.779477332387385e-14, -1.1470745597729725e-11)
    c = _mul_add_rn(t2, c, 2.08767569878681e-09)
    c = _mul_add_rn(t2, c, -2.755731922398589e-07)
    c = _mul_add_rn(t2, c, 2.48015873015873e-05)
    c = _mul_add_rn(t2, c, -0.001388888888888889)
    c = _mul_add_rn(t2, c, 0.041666666666666664)
    c = _mul_add_rn(t2, c, -0.5)
    c = _mul_add_rn(t2, c, 1.0)
    s = _mul_add_rn(t2, tl.zeros_like(t2) + 2.8114572543455206e-15, -7.647163731819816e-13)
    s = _mul_add_rn(t2, s, 1.6059043836821613e-10)
    s = _mul_add_rn(t2, s, -2.505210838544172e-08)
    s = _mul_add_rn(t2, s, 2.7557319223985893e-06)
    s = _mul_add_rn(t2, s, -0.0001984126984126984)
    s = _mul_add_rn(t2, s, 0.008333333333333333)
    s = _mul_add_rn(t2, s, -0.16666666666666666)
    s = _mul_add_rn(t2, s, 1.0)
    s = th * s
    q = k.to(tl.int32) % 4
    return tl.where(q == 0, c, tl.where(q == 1, -s, tl.where(q == 2, -c, s)))


@triton.jit
def normal_draw(key, step, p, n, i):
    """Standard normal float32 draws z(seed, stream, step, p, n, i) of wmkernels._random.

    key = seed + (stream << 32) (Philox key words (seed, stream)); n, i int32 tensors of one
    shape (candidate, element t*A + a); p, step scalars. Philox4x32-10 on the counter
    (i, n, p, step), float32 uniforms u1 = max(u(x0), 1e-7), u2 = u(x1), then
    z = float32(sqrt(-2 log u1) cos(2 pi u2)) evaluated in float64.
    """
    zero = tl.zeros_like(i)
    x0, x1, _, _ = tl.philox(key, i, n + zero, zero + p, zero + step)
    u1 = tl.maximum(_unit(x0), 1.0e-7).to(tl.float64)
    u2 = _unit(x1).to(tl.float64)
    return (_sqrt_rn(-2.0 * tl.log(u1)) * _cos_2pi(u2)).to(tl.float32)


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
