"""Lazy loading of the compiled extension; never built or loaded at import of wmkernels.

The extension implements the ops of wmkernels/ops/schema.py for CPU and CUDA tensors; the
schemas are defined from Python (schema.define) before the library loads.

Order: the prebuilt module `wmkernels._C` (pip install), else a JIT build of csrc/ into a
cache folder (wmkernels/_build.py) where a compiler is present and WMK_NO_JIT is not 1,
else unavailable, with the reasons. The first request for a cpp/cuda op pays for this.
"""
import functools
import os
import threading

from .ops import schema

_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load():
    """(module, None) if the extension is importable or could be JIT-built, else (None, reason)."""
    with _lock:
        if os.environ.get("WMK_NO_EXTENSION") == "1":
            return None, "WMK_NO_EXTENSION=1 disables the C++ extension"
        from . import _prebuilt  # a wheel checks the torch beside it first
        try:
            schema.define()
            module = _prebuilt.import_prebuilt()
            module.__wmk_source__ = "prebuilt"
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
            schema.define()
            module = _build.jit_load(verbose=os.environ.get("WMK_JIT_VERBOSE") == "1")
        except Exception as err:  # a failed compile must leave the torch backend usable
            return None, f"{prebuilt_error}, and the JIT build failed: {type(err).__name__}: {err}"
        module.__wmk_source__ = "jit"
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

