"""Finding the CUDA toolkit for a build: its root (CUDA_HOME), nvcc and the headers and library
the CUDA sources need; or one error that says what is missing, before anything is compiled.

Where it looks, in order:
- CUDA_HOME or CUDA_PATH when set (then nowhere else: an explicit choice is never overridden);
- the toolkit that the nvcc on PATH belongs to, as nvcc itself reports it (`nvcc --dryrun`),
  so that a wrapper script such as /usr/local/bin/nvcc leads to the real root;
- /usr/local/cuda.
Headers the toolkit lacks may come from the include folders of the NVIDIA pip packages that a
CUDA build of torch installs (site-packages/nvidia/*/include).

This file imports nothing outside the standard library (setup.py loads it by path, before torch
guesses CUDA_HOME on its own).
"""
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# What csrc/*.cu and csrc/ops_cuda.cpp (through torch's c10/cuda headers) include from the toolkit.
REQUIRED_HEADERS = ("cuda_runtime_api.h", "cuda_runtime.h")
# What CUDAExtension links against (-L<root>/lib64 -lcudart).
REQUIRED_LIBRARY = "libcudart.so"


class ToolkitMissing(RuntimeError):
    """No complete CUDA toolkit was found; the message lists each place tried and what it lacked."""


@dataclass
class Toolkit:
    home: str
    nvcc: str
    version: tuple
    extra_include_dirs: list = field(default_factory=list)  # pip include folders for missing headers


def _run(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout + proc.stderr


def nvcc_version(nvcc):
    """(major, minor) of an nvcc, or None."""
    match = re.search(r"release (\d+)\.(\d+)", _run([nvcc, "--version"]))
    return (int(match.group(1)), int(match.group(2))) if match else None


def nvcc_root(nvcc):
    """The toolkit root that an nvcc (maybe a wrapper script) belongs to, as it reports itself."""
    match = re.search(r"^#\$ TOP=(.+)$", _run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull]), re.M)
    if match:
        return os.path.normpath(match.group(1).strip())
    return str(Path(os.path.realpath(nvcc)).parent.parent)


def candidates():
    """[(toolkit root, how it was found)], in the order they are tried."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            return [(os.environ[var], f"{var}={os.environ[var]}")]
    found = []
    on_path = shutil.which("nvcc")
    if on_path:
        found.append((nvcc_root(on_path), f"the nvcc on PATH ({on_path})"))
    found.append(("/usr/local/cuda", "the default location"))
    unique = []
    for root, how in found:
        if os.path.realpath(root) not in [os.path.realpath(r) for r, _ in unique]:
            unique.append((root, how))
    return unique


def toolkit_include_dirs(home):
    return [str(Path(home) / "include")] + sorted(glob.glob(str(Path(home) / "targets" / "*" / "include")))


def pip_include_dirs():
    """Include folders of the NVIDIA pip packages (nvidia/*/include), without importing them."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        spec = None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    return [d for root in roots for d in sorted(glob.glob(os.path.join(root, "*", "include")))]


def _locate(header, folders):
    return next((d for d in folders if (Path(d) / header).is_file()), None)


def _inspect(home):
    """(Toolkit, []) for a complete toolkit at `home`, else (None, [what is missing])."""
    nvcc = Path(home) / "bin" / "nvcc"
    if not nvcc.is_file():
        return None, [f"no bin/nvcc in {home}"]
    missing, extra, absent = [], [], []
    own, pip = toolkit_include_dirs(home), pip_include_dirs()
    for header in REQUIRED_HEADERS:
        if _locate(header, own):
            continue
        folder = _locate(header, pip)
        if folder is None:
            absent.append(header)
        elif folder not in extra:
            extra.append(folder)
    if absent:
        missing.append(f"no {', '.join(absent)} in {home}/include (nor in pip's nvidia/*/include)")
    if not any((Path(home) / lib / REQUIRED_LIBRARY).exists() for lib in ("lib64", "lib")):
        missing.append(f"no lib64/{REQUIRED_LIBRARY} in {home}")
    version = nvcc_version(str(nvcc))
    if version is None:
        missing.append(f"{nvcc} --version does not run or does not report a release")
    if missing:
        return None, missing
    return Toolkit(str(home), str(nvcc), version, extra), []


def find(torch_cuda=None) -> Toolkit:
    """The first complete toolkit; `torch_cuda` ("13.0") is the CUDA version torch was built
    with, whose major version nvcc must share. Raises ToolkitMissing saying what is missing."""
    tried = []
    for home, how in candidates():
        toolkit, missing = _inspect(home)
        if toolkit is not None and torch_cuda:
            torch_major = int(str(torch_cuda).split(".")[0])
            if toolkit.version[0] != torch_major:
                version = ".".join(map(str, toolkit.version))
                missing = [f"its nvcc is CUDA {version} but torch was built with CUDA {torch_cuda} "
                           f"(the major versions must match)"]
                toolkit = None
        if toolkit is not None:
            return toolkit
        tried.append(f"{home} ({how}): " + "; ".join(missing))
    raise ToolkitMissing("no usable CUDA toolkit: " + " | ".join(tried) + ". Set CUDA_HOME to the toolkit "
                         "root (the folder with bin/nvcc, include/cuda_runtime_api.h and lib64/libcudart.so), "
                         "or set WMK_FORCE_CUDA=0 to build the CPU kernels only")
