"""Builds wmkernels with its C++/CUDA extension (wmkernels._C) against the installed torch.

    pip install --no-build-isolation -e .          # development install
    python -m build --wheel --no-isolation         # a wheel: 0.1.0+cputorch2.13, 0.1.0+cu130torch2.11

Build parameters live in wmkernels/_build.py (shared with the JIT build); see docs/build.md
for WMK_NO_EXTENSION, WMK_FORCE_CUDA, WMK_CUDA_ARCHS / TORCH_CUDA_ARCH_LIST and MAX_JOBS.
"""
import importlib.util
import re
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("wmkernels_build", ROOT / "wmkernels" / "_build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

BASE_VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "wmkernels" / "__init__.py").read_text(), re.M).group(1)


def version(ext_modules) -> str:
    if not ext_modules:
        return BASE_VERSION
    with_cuda = any(type(e).__name__ == "CUDAExtension" or any(str(s).endswith(".cu") for s in e.sources)
                    for e in ext_modules)
    return f"{BASE_VERSION}+{build.local_version(with_cuda)}"


ext_modules = build.setup_extensions()
cmdclass = {}
if ext_modules:
    from torch.utils.cpp_extension import BuildExtension
    cmdclass["build_ext"] = BuildExtension.with_options(no_python_abi_suffix=False)

setup(version=version(ext_modules), ext_modules=ext_modules, cmdclass=cmdclass)
