"""Projected Adam step on action sequences in one Triton launch, in place (op triton_adam_step;
schema: wmkernels/ops/schema.py, maths: docs/maths.md).

actions, grad, m, v (and noise) share a shape [..., A]; lo, hi [A]. The kernel computes in
float32 and stores in the tensors' dtype.
"""
import triton
import triton.language as tl

from .._triton import settings
from .._triton.library import implements


@triton.jit
def _adam_kernel(a_ptr, g_ptr, m_ptr, v_ptr, noise_ptr, lo_ptr, hi_ptr,
                 numel, A, lr, beta1, beta2, eps, bc1, bc2,
                 HAS_NOISE: tl.constexpr, BLOCK: tl.constexpr):
    """Elementwise, in place:
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        a = clamp(a - lr (m / bc1) / (sqrt(v / bc2) + eps) + noise, lo[j], hi[j]),  j = index % A
    with bc1 = 1 - b1^k, bc2 = 1 - b2^k.
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    m = tl.load(m_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    v = tl.load(v_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    tl.store(m_ptr + offs, m.to(m_ptr.dtype.element_ty), mask=mask)
    tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)
    a = a - lr * (m / bc1) / (tl.sqrt(v / bc2) + eps)
    if HAS_NOISE:
        a += tl.load(noise_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    j = offs % A
    lo = tl.load(lo_ptr + j, mask=mask, other=0.0).to(tl.float32)
    hi = tl.load(hi_ptr + j, mask=mask, other=0.0).to(tl.float32)
    a = tl.minimum(tl.maximum(a, lo), hi)
    tl.store(a_ptr + offs, a.to(a_ptr.dtype.element_ty), mask=mask)


@implements("adam_step", mutated=(0, 2, 3))
def adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise):
    """One projected Adam step, in place on actions, m, v; one program per BLOCK elements."""
    numel = actions.numel()
    BLOCK = 1024
    _adam_kernel[(triton.cdiv(numel, BLOCK),)](
        a_ptr=actions, g_ptr=grad, m_ptr=m, v_ptr=v, noise_ptr=grad if noise is None else noise, lo_ptr=lo,
        hi_ptr=hi, numel=numel, A=actions.shape[-1], lr=lr, beta1=beta1, beta2=beta2, eps=eps,
        bc1=1.0 - beta1 ** step, bc2=1.0 - beta2 ** step,
        HAS_NOISE=noise is not None, BLOCK=BLOCK, **settings.LAUNCH["adam"])
