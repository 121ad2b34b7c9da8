"""Lazy loading of the compiled extension; never built or loaded at import of wmkernels.

Order: the prebuilt module `wmkernels._C` (pip install), else a JIT build of csrc/ into a
cache folder (wmkernels/_build.py) where a compiler is present and WMK_NO_JIT is not 1,
else unavailable, with the reasons. The first request for a cpp/cuda op pays for this.
"""
import functools
import importlib
import os
import threading

_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load():
    """(module, None) if the extension is importable or could be JIT-built, else (None, reason)."""
    with _lock:
        if os.environ.get("WMK_NO_EXTENSION") == "1":
            return None, "WMK_NO_EXTENSION=1 disables the C++ extension"
        from . import _prebuilt  # a wheel checks the torch beside it first
        try:
            module = _prebuilt.import_prebuilt()
            module.__wmk_source__ = "prebuilt"
            _register_fakes()
            return module, None
        except ImportError as err:
            prebuilt_error = f"the C++ extension is not built ({err})"
        if os.environ.get("WMK_NO_JIT") == "1":
            return None, (f"{prebuilt_error}; WMK_NO_JIT=1 forbids a JIT build. Build it with "
                          "`pip install --no-build-isolation -e .`")
        from . import _build
        reason = _build.compiler_reason()
        if reason is not None:
            return None, (f"{prebuilt_error}, and no JIT build is possible: {reason}. Build it with "
                          "`pip install --no-build-isolation -e .`")
        try:
            module = _build.jit_load(verbose=os.environ.get("WMK_JIT_VERBOSE") == "1")
        except Exception as err:  # a failed compile must leave the torch backend usable
            return None, f"{prebuilt_error}, and the JIT build failed: {type(err).__name__}: {err}"
        module.__wmk_source__ = "jit"
        _register_fakes()
        return module, None


def loaded() -> bool:
    """Whether the extension has been loaded in this process (without loading it)."""
    return _load.cache_info().currsize > 0 and _load()[0] is not None


def module():
    """The extension module; raises RuntimeError with the reason when unavailable."""
    mod, reason = _load()
    if mod is None:
        raise RuntimeError(reason)
    return mod


def unavailable_reason(backend: str):
    mod, reason = _load()
    if mod is None:
        return reason
    if backend == "cuda" and not mod.has_cuda():
        return "the extension was built without CUDA kernels (CPU torch or no nvcc at build time)"
    return None


def describe() -> dict:
    mod, reason = _load()
    if mod is None:
        return {"built": False, "reason": reason}
    return {"built": True, "source": getattr(mod, "__wmk_source__", "prebuilt"), **mod.build_info()}


# ---- arguments of the torch.ops.wmkernels.* ops, shared by wmkernels/ops/*/cpp.py ---------
def compute_dtype(dtype):
    """The kernels compute float64 in float64 and everything else in float32."""
    import torch
    return torch.float64 if dtype == torch.float64 else torch.float32


def ops():
    """torch.ops.wmkernels, loading the extension first (raises with the reason if unavailable)."""
    import torch
    module()
    return torch.ops.wmkernels


def as_arg(t, dtype):
    return t.to(dtype=dtype).contiguous()


def model_args(model, dtype, device):
    """(weights, biases, skip, activation id) of an MLPWorldModel; skip is empty for the identity."""
    import torch
    from .activations import NAMES
    weights = [as_arg(w, dtype) for w in model.weights]
    biases = [as_arg(b, dtype) for b in model.biases]
    skip = torch.empty(0, dtype=dtype, device=device) if model.skip is None else as_arg(model.skip, dtype)
    return weights, biases, skip, NAMES.index(model.activation)


def objective_args(obj, dtype):
    """(step_weights, state_weights, action_penalty) of a ResolvedObjective."""
    return as_arg(obj.step_weights, dtype), as_arg(obj.state_weights, dtype), float(obj.action_penalty)


# ---- fake (meta) implementations: shapes for torch.compile / FakeTensor tracing ----------
_fakes_registered = False


def _register_fakes():
    """Register shape-only implementations of the ops so torch.compile keeps them opaque."""
    global _fakes_registered
    if _fakes_registered:
        return
    import torch
    register = getattr(torch.library, "register_fake", None) or getattr(torch.library, "impl_abstract", None)
    if register is None:  # pragma: no cover - very old torch
        return

    def _register(name, fn):
        try:
            register(f"wmkernels::{name}")(fn)
        except RuntimeError:  # already registered (a second load in the same process)
            pass

    def rollout(z0, actions, goal, weights, biases, skip, activation, sw, qw, lam, return_states):
        P, N, T, _ = actions.shape
        D = z0.shape[1]
        states = actions.new_empty((P, N, T + 1, D)) if return_states else actions.new_empty((0,))
        return actions.new_empty((P, N)), states

    def rollout_grad(z0, actions, goal, weights, biases, skip, activation, sw, qw, lam):
        return actions.new_empty(actions.shape[:2]), actions.new_empty(actions.shape)

    def adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise):
        return None

    def gbp_plan(z0, goal, weights, biases, skip, activation, sw, qw, lam, lo, hi, init, iters, *rest):
        P, _, T, A = init.shape
        return init.new_empty((P, T, A)), init.new_empty((P,)), init.new_empty((P, iters))

    def cem_plan(z0, goal, weights, biases, skip, activation, sw, qw, lam, lo, hi, mean, std, samples, elites,
                 iters, momentum, seed):
        P = mean.shape[0]
        return mean.new_empty(mean.shape), mean.new_empty((P,)), mean.new_empty((P, iters))

    def mppi_plan(z0, goal, weights, biases, skip, activation, sw, qw, lam, lo, hi, mean, std, samples, iters,
                  temperature, momentum, seed):
        P = mean.shape[0]
        return mean.new_empty(mean.shape), mean.new_empty((P,)), mean.new_empty((P, iters))

    for name, fn in (("rollout", rollout), ("rollout_grad", rollout_grad), ("adam_step", adam_step),
                     ("gbp_plan", gbp_plan), ("cem_plan", cem_plan), ("mppi_plan", mppi_plan)):
        _register(name, fn)
    _fakes_registered = True
