"""Lazy loading of the compiled extension (wmkernels._C); never built or loaded at import."""
import functools
import importlib


@functools.lru_cache(maxsize=None)
def _load():
    """(module, None) if the extension imports, else (None, reason)."""
    try:
        return importlib.import_module("wmkernels._C"), None
    except ImportError as err:
        return None, f"the C++ extension is not built ({err}); build it with `pip install --no-build-isolation -e .`"


def unavailable_reason(backend: str):
    module, reason = _load()
    if module is None:
        return reason
    if backend == "cuda" and not getattr(module, "has_cuda", lambda: False)():
        return "the extension was built without CUDA kernels"
    return None


def describe() -> dict:
    module, reason = _load()
    if module is None:
        return {"built": False, "reason": reason}
    return {"built": True, **getattr(module, "build_info", lambda: {})()}
