"""Projected Adam and SGD steps on action sequences in one Triton launch (in place).

See naive.py for the maths. actions, grad, m, v (and noise) share a shape [..., A]; lo, hi [A].
"""
import torch
import triton
import triton.language as tl

from .. import _triton_lib as lib


@triton.jit
def _adam_kernel(a_ptr, g_ptr, m_ptr, v_ptr, noise_ptr, lo_ptr, hi_ptr,
                 numel, A, lr, beta1, beta2, eps, bc1, bc2,
                 ADAM: tl.constexpr, HAS_NOISE: tl.constexpr, BLOCK: tl.constexpr):
    """Elementwise, in place (ADAM):
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
        a = clamp(a - lr (m / bc1) / (sqrt(v / bc2) + eps) + noise, lo[j], hi[j]),  j = index % A
    with bc1 = 1 - b1^k, bc2 = 1 - b2^k; SGD (not ADAM): a = clamp(a - lr g + noise, lo, hi).
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if ADAM:
        m = tl.load(m_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        v = tl.load(v_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        tl.store(m_ptr + offs, m.to(m_ptr.dtype.element_ty), mask=mask)
        tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)
        a = a - lr * (m / bc1) / (tl.sqrt(v / bc2) + eps)
    else:
        a = a - lr * g
    if HAS_NOISE:
        a += tl.load(noise_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    j = offs % A
    lo = tl.load(lo_ptr + j, mask=mask, other=0.0).to(tl.float32)
    hi = tl.load(hi_ptr + j, mask=mask, other=0.0).to(tl.float32)
    a = tl.minimum(tl.maximum(a, lo), hi)
    tl.store(a_ptr + offs, a.to(a_ptr.dtype.element_ty), mask=mask)


def adam_forward(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise=None, adam=True):
    """Launcher: one program per BLOCK elements; float64 tensors are updated in float32."""
    if actions.dtype == torch.float64:
        # compute in float32, write back in place in float64
        targets = (actions, m, v) if adam else (actions,)
        work = [t.to(torch.float32) for t in targets]
        work += [work[0]] * (3 - len(work))
        adam_forward(work[0], grad.to(torch.float32), work[1], work[2], step, lr, beta1, beta2, eps,
                     lo, hi, None if noise is None else noise.to(torch.float32), adam)
        for dst, src in zip(targets, work):
            dst.copy_(src)
        return actions
    numel = actions.numel()
    A = actions.shape[-1]
    grad = grad.contiguous()
    noise_t = grad if noise is None else noise.contiguous()
    lo32, hi32 = lo.to(torch.float32).contiguous(), hi.to(torch.float32).contiguous()
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    BLOCK = 1024
    _adam_kernel[(triton.cdiv(numel, BLOCK),)](
        actions, grad, m, v, noise_t, lo32, hi32, numel, A, lr, beta1, beta2, eps, bc1, bc2,
        ADAM=adam, HAS_NOISE=noise is not None, BLOCK=BLOCK, **lib.LAUNCH["adam"])
    return actions


def adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise=None):
    """One projected Adam step, in place on actions, m, v; returns actions."""
    return adam_forward(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise, adam=True)


def sgd_step(actions, grad, lr, lo, hi, noise=None):
    """One projected SGD step, in place on actions; returns actions."""
    return adam_forward(actions, grad, actions, actions, 1, lr, 0.0, 0.0, 1.0, lo, hi, noise, adam=False)
