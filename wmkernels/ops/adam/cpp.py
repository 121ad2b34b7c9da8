"""Projected Adam step through the C++/CUDA extension (backends "cpp" and "cuda").

Same signature and in-place semantics as naive.py beside it.
"""
from ... import _extension as ext


def adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise=None):
    dtype = ext.compute_dtype(actions.dtype)
    if actions.dtype == dtype:
        targets = (actions, m, v)
    else:  # half precision: step a float32 copy, then write back
        targets = tuple(t.to(dtype) for t in (actions, m, v))
    ext.ops().adam_step(targets[0], ext.as_arg(grad, dtype), targets[1], targets[2], int(step), float(lr),
                        float(beta1), float(beta2), float(eps), ext.as_arg(lo, dtype), ext.as_arg(hi, dtype),
                        None if noise is None else ext.as_arg(noise, dtype))
    if targets[0] is not actions:
        for dst, src in zip((actions, m, v), targets):
            dst.copy_(src)
    return actions
