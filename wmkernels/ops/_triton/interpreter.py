"""A faster Triton interpreter (TRITON_INTERPRET=1, the CPU tests).

Every call of a @triton.jit device function under the interpreter re-patches triton.language
(about a millisecond each, hundreds of times per kernel here). `speed_up` skips the re-patch
when the modules the function sees are already patched; the patches are stateless wrappers,
so nothing else changes. It touches a private interpreter function and does nothing when that
is missing; WMK_INTERPRETER_FAST=0 disables it.
"""
import inspect
import os

import triton.language as tl


def speed_up():
    if os.environ.get("WMK_INTERPRETER_FAST", "1") == "0":
        return
    try:
        from triton.runtime import interpreter as interp
        original, scope_type = interp._patch_lang, interp._LangPatchScope
    except (ImportError, AttributeError):
        return
    if getattr(original, "_wmk_fast", False):
        return

    def patch_lang(fn):
        langs = [v for v in fn.__globals__.values() if inspect.ismodule(v) and v in (tl, tl.core)]
        if langs and all(not tl.core.is_builtin(getattr(lang, "load", None)) for lang in langs):
            return scope_type()          # already patched: nothing to do, nothing to restore
        return original(fn)

    patch_lang._wmk_fast = True
    interp._patch_lang = patch_lang
