"""Builds wmkernels with its C++/CUDA extension (wmkernels._C) against the installed torch.

    pip install --no-build-isolation -e .          # development install
    make wheel ARCHS="80;90"                       # a CUDA wheel (README, "Building wheels")
    python -m build --wheel --no-isolation         # a wheel for the torch in this environment

The version carries what the extension was built against: 0.1.0+cu130.torch2.14.1.sm80.sm90 for
CUDA, 0.1.0+cpu.torch2.13.0 for CPU only, plain 0.1.0 without the extension; the torch
requirement pins that torch (torch==2.14.1).

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

setup(**build.setup_config(BASE_VERSION))
