"""Build parameters of the C++/CUDA extension: the one source for setup.py and the JIT build.

What gets built (docs/build.md, "What gets built"):

- the CPU extension always, unless WMK_NO_EXTENSION=1;
- the CUDA kernels as well where torch is a CUDA build and nvcc is found
  (WMK_FORCE_CUDA=1 insists and fails loudly otherwise; WMK_FORCE_CUDA=0 skips them);
- CUDA architectures from TORCH_CUDA_ARCH_LIST or WMK_CUDA_ARCHS (default "8.0;8.6;8.9;9.0"),
  one -gencode each plus PTX for the newest, dropping those the installed nvcc cannot target;
- MAX_JOBS from the cores and the memory, unless set.

This file imports nothing from wmkernels (setup.py loads it by path) and imports torch only
inside functions, so that reading it is cheap.
"""
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
PACKAGE = ROOT / "wmkernels"
EXTENSION = "wmkernels._C"
JIT_NAME = "wmkernels_C_jit"

CPU_SOURCES = ("bindings.cpp", "rollouts_cpu.cpp", "adam_cpu.cpp", "gbp_cpu.cpp", "sampling_cpu.cpp")
# ATen glue compiled by the host compiler, and the plain-CUDA kernels (no ATen) by nvcc.
CUDA_SOURCES = ("ops_cuda.cpp", "rollouts_cuda.cu", "adam_cuda.cu", "gbp_cuda.cu", "sampling_cuda.cu")
DEFAULT_ARCHS = "8.0;8.6;8.9;9.0"

# Portable flags only: no -march. The CPU kernels carry AVX-512, AVX2 and baseline code paths
# (csrc/cpu/foreach_isa.h) and choose one at run time.
CXX_FLAGS = ["-O3", "-g0", "-fno-math-errno", "-fno-trapping-math", "-Wno-unknown-pragmas"]
NVCC_FLAGS = ["-O3", "-lineinfo", "--expt-relaxed-constexpr", "-Xfatbin=-compress-all"]

# Lowest nvcc (major, minor) that can target each architecture, and the first that cannot.
_ARCH_NVCC = {"7.0": ((9, 0), (13, 0)), "7.5": ((10, 0), None), "8.0": ((11, 0), None),
              "8.6": ((11, 1), None), "8.7": ((11, 4), None), "8.9": ((11, 8), None),
              "9.0": ((11, 8), None), "9.0a": ((12, 0), None), "10.0": ((12, 8), None),
              "10.0a": ((12, 8), None), "12.0": ((12, 8), None), "12.0a": ((12, 8), None)}


def want_extension() -> bool:
    return os.environ.get("WMK_NO_EXTENSION", "0") != "1"


def nvcc_path():
    """The nvcc that torch would use (CUDA_HOME), else the one on PATH, else None."""
    try:
        from torch.utils.cpp_extension import CUDA_HOME
    except Exception:  # pragma: no cover - torch missing or broken
        CUDA_HOME = None
    if CUDA_HOME and (Path(CUDA_HOME) / "bin" / "nvcc").exists():
        return str(Path(CUDA_HOME) / "bin" / "nvcc")
    return shutil.which("nvcc")


def nvcc_version(nvcc=None):
    """(major, minor) of nvcc, or None."""
    nvcc = nvcc or nvcc_path()
    if not nvcc:
        return None
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"release (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def cuda_reason():
    """None if the CUDA kernels can be built here, else why not."""
    import torch
    if os.environ.get("WMK_FORCE_CUDA") == "0":
        return "WMK_FORCE_CUDA=0"
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is not a CUDA build"
    if nvcc_path() is None:
        return "nvcc was not found (set CUDA_HOME)"
    return None


def want_cuda() -> bool:
    reason = cuda_reason()
    if reason is not None and os.environ.get("WMK_FORCE_CUDA") == "1":
        raise RuntimeError(f"WMK_FORCE_CUDA=1 but the CUDA kernels cannot be built: {reason}")
    return reason is None


def cuda_archs(nvcc_ver=None):
    """Requested architectures ("8.0", "9.0a", ...) that the installed nvcc can target."""
    raw = os.environ.get("TORCH_CUDA_ARCH_LIST") or os.environ.get("WMK_CUDA_ARCHS") or DEFAULT_ARCHS
    archs = []
    for item in re.split(r"[;\s,]+", raw.strip()):
        item = item.replace("+PTX", "")
        if not item:
            continue
        if not re.fullmatch(r"\d+\.\d+a?", item):
            raise ValueError(f"cannot read CUDA architecture {item!r} in {raw!r}")
        window = _ARCH_NVCC.get(item)
        if nvcc_ver is not None and window is not None:
            low, high = window
            if nvcc_ver < low or (high is not None and nvcc_ver >= high):
                continue
        if item not in archs:
            archs.append(item)
    if not archs:
        raise ValueError(f"no CUDA architecture of {raw!r} is supported by nvcc {nvcc_ver}")
    return sorted(archs, key=lambda a: (float(a.rstrip("a")), a))


def gencode_flags(archs):
    """One -gencode per architecture (SASS) plus PTX for the newest."""
    flags = []
    for arch in archs:
        num = arch.replace(".", "")
        flags.append(f"-gencode=arch=compute_{num},code=sm_{num}")
    newest = archs[-1].replace(".", "")
    flags.append(f"-gencode=arch=compute_{newest},code=compute_{newest}")
    return flags


def max_jobs(cuda: bool = False) -> int:
    """Parallel compile jobs: every core, but at most one per 1.5 GB (3 GB for nvcc) of memory."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gb = 8.0
    per_job = 3.0 if cuda else 1.5
    return max(1, min(cores, int(mem_gb // per_job)))


def set_max_jobs(cuda: bool = False) -> str:
    os.environ.setdefault("MAX_JOBS", str(max_jobs(cuda)))
    return os.environ["MAX_JOBS"]


def local_version(with_cuda: bool) -> str:
    """The wheel's local version: cu130torch2.11 on CUDA, cputorch2.13 otherwise."""
    import torch
    torch_ver = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    if with_cuda:
        return f"cu{torch.version.cuda.replace('.', '')}torch{torch_ver}"
    return f"cputorch{torch_ver}"


def sources(with_cuda: bool):
    names = CPU_SOURCES + (CUDA_SOURCES if with_cuda else ())
    return [str(CSRC / name) for name in names]


def flags(with_cuda: bool):
    """(cxx flags, nvcc flags, architectures) for this build."""
    cxx = list(CXX_FLAGS)
    nvcc, archs = [], []
    if with_cuda:
        archs = cuda_archs(nvcc_version())
        cxx.append("-DWMK_WITH_CUDA")
        nvcc = NVCC_FLAGS + ["-DWMK_WITH_CUDA"] + gencode_flags(archs)
    return cxx, nvcc, archs


def write_build_info(directory, how: str, with_cuda: bool, cxx, nvcc, archs) -> str:
    """Write wmk_build_info.h (what wmkernels._C.build_info() reports) into `directory`."""
    import torch
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    values = {"TORCH_VERSION": torch.__version__, "CUDA_VERSION": torch.version.cuda or "",
              "CUDA_ARCHS": ";".join(archs), "CXX_FLAGS": " ".join(cxx), "NVCC_FLAGS": " ".join(nvcc),
              "HOW": how}
    lines = ["// Generated by wmkernels/_build.py; do not edit.", "#pragma once"]
    lines += [f"#define WMK_BUILD_{key} {_c_string(value)}" for key, value in values.items()]
    text = "\n".join(lines) + "\n"
    path = directory / "wmk_build_info.h"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return str(directory)


def _c_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def include_dirs(generated_dir):
    return [str(CSRC), str(generated_dir)]


# ---- setup.py ---------------------------------------------------------------------------
def setup_extensions():
    """The ext_modules list for setup.py (empty with WMK_NO_EXTENSION=1)."""
    if not want_extension():
        return []
    from torch.utils.cpp_extension import CppExtension, CUDAExtension
    with_cuda = want_cuda()
    set_max_jobs(with_cuda)
    cxx, nvcc, archs = flags(with_cuda)
    generated = write_build_info(ROOT / "build" / "wmk_generated", "setup.py", with_cuda, cxx, nvcc, archs)
    rel = [os.path.relpath(s, ROOT) for s in sources(with_cuda)]
    if with_cuda:
        return [CUDAExtension(EXTENSION, rel, include_dirs=include_dirs(generated),
                              extra_compile_args={"cxx": cxx, "nvcc": nvcc})]
    return [CppExtension(EXTENSION, rel, include_dirs=include_dirs(generated),
                         extra_compile_args={"cxx": cxx})]


# ---- JIT fallback -----------------------------------------------------------------------
def cache_dir(with_cuda: bool) -> Path:
    """Where the JIT build goes: WMK_CACHE_DIR, else ~/.cache/wmkernels, one folder per
    torch version, device kind and source hash."""
    import torch
    base = Path(os.environ.get("WMK_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                / "wmkernels")
    digest = hashlib.sha256()
    for path in sorted(CSRC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    kind = f"cu{torch.version.cuda}" if with_cuda else "cpu"
    return base / f"torch{torch.__version__}-{kind}-{digest.hexdigest()[:12]}"


def compiler_reason():
    """None if a C++ compiler for the JIT build is present, else why not."""
    if not CSRC.is_dir():
        return f"the C++ sources ({CSRC}) are not shipped with this install"
    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx}) on PATH"
    try:
        import ninja  # noqa: F401
    except ImportError:
        if shutil.which("ninja") is None:
            return "ninja is not installed (pip install ninja), which the JIT build needs"
    return None


def jit_load(verbose: bool = False):
    """Build (or reuse from the cache) and import the extension; returns the module."""
    from torch.utils.cpp_extension import load
    with_cuda = want_cuda()
    set_max_jobs(with_cuda)
    cxx, nvcc, archs = flags(with_cuda)
    build_dir = cache_dir(with_cuda)
    generated = write_build_info(build_dir / "generated", "jit", with_cuda, cxx, nvcc, archs)
    (build_dir / "build").mkdir(parents=True, exist_ok=True)
    return load(name=JIT_NAME, sources=sources(with_cuda), extra_cflags=cxx,
                extra_cuda_cflags=nvcc if with_cuda else None, extra_include_paths=include_dirs(generated),
                build_directory=str(build_dir / "build"), with_cuda=with_cuda, verbose=verbose)
