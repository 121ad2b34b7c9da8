"""A whole gradient-based plan in one call of the C++/CUDA extension (backends "cpp" and "cuda").

Same signature and results as naive.py beside it: every Adam (or SGD) iteration, the noise
(the shared Philox stream) and the final choice happen inside csrc/gbp_cpu.cpp / gbp_cuda.cu.
"""
from ... import _extension as ext


def gbp_plan(model, z0, goal, obj, init, iters, lr, optimizer="adam", beta1=0.9, beta2=0.999,
             eps=1e-8, noise=0.0, seed=0):
    dtype = ext.compute_dtype(init.dtype)
    actions, cost, history = ext.ops().gbp_plan(
        ext.as_arg(z0, dtype), ext.as_arg(goal, dtype), *ext.model_args(model, dtype, init.device),
        *ext.objective_args(obj, dtype), ext.as_arg(obj.lo, dtype), ext.as_arg(obj.hi, dtype),
        ext.as_arg(init, dtype), int(iters), float(lr), 0 if optimizer == "adam" else 1, float(beta1),
        float(beta2), float(eps), float(noise), int(seed))
    return actions.to(init.dtype), cost.to(init.dtype), history.to(init.dtype)
