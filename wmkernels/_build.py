"""Build parameters of the C++/CUDA extension: the one source for setup.py and the JIT build.

What gets built (docs/build.md, "What gets built"):

- the CPU extension always, unless WMK_NO_EXTENSION=1;
- the CUDA kernels as well where torch is a CUDA build and a complete CUDA toolkit is found
  (wmkernels/_toolkit.py; WMK_FORCE_CUDA=1 insists and stops at once, saying what is missing;
  WMK_FORCE_CUDA=0 skips them);
- CUDA architectures from TORCH_CUDA_ARCH_LIST or WMK_CUDA_ARCHS (default "8.0;8.6;8.9;9.0",
  any spelling wmkernels/_archs.py reads), one -gencode each plus PTX for the newest, dropping
  with a warning those the installed nvcc cannot target;
- MAX_JOBS from the cores and the memory, unless set.

The wheel's local version names the CUDA and torch versions and the architectures
(0.1.0+cu130.torch2.14.1.sm80.sm90), and its torch requirement pins the torch it was built
against (torch==2.14.1): the extension works with that torch only.

This file imports nothing from the wmkernels package (setup.py loads it by path; its siblings
_archs.py and _toolkit.py are loaded the same way) and imports torch only inside functions, so
that reading it is cheap.
"""
import hashlib
import importlib
import importlib.util
import os
import re
import shutil
import sys
import warnings
from pathlib import Path


def _sibling(name):
    """A module beside this file: a plain import inside the package, by path when setup.py has
    loaded this file on its own."""
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    qualified = f"wmkernels_build_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


_archs = _sibling("_archs")
_toolkit = _sibling("_toolkit")

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
PACKAGE = ROOT / "wmkernels"
EXTENSION = "wmkernels._C"
CPU_ONLY_EXTENSION = "wmkernels._C_cpu"  # a CUDA build's CPU kernels alone (setup_config)
JIT_NAME = "wmkernels_C_jit"

CPU_SOURCES = ("bindings.cpp", "rollouts_cpu.cpp", "adam_cpu.cpp", "gbp_cpu.cpp", "sampling_cpu.cpp")
# ATen glue compiled by the host compiler, and the plain-CUDA kernels (no ATen) by nvcc.
CUDA_SOURCES = ("ops_cuda.cpp", "rollouts_cuda.cu", "adam_cuda.cu", "gbp_cuda.cu", "sampling_cuda.cu")
DEFAULT_ARCHS = _archs.DEFAULT_ARCHS
# The torch requirement of a build without the extension (pure Python).
TORCH_REQUIREMENT = "torch>=2.4"

# Portable flags only: no -march. The CPU kernels carry AVX-512, AVX2 and baseline code paths
# (csrc/cpu/foreach_isa.h) and choose one at run time. -fopenmp: at::parallel_for is inline
# OpenMP in torch's headers and runs on one thread when the extension is compiled without it;
# the OpenMP runtime at run time is the libgomp.so.1 that torch has already loaded.
CXX_FLAGS = ["-O3", "-g0", "-fno-math-errno", "-fno-trapping-math", "-Wno-unknown-pragmas", "-fopenmp"]
LINK_FLAGS = ["-fopenmp"]
NVCC_FLAGS = ["-O3", "-lineinfo", "--expt-relaxed-constexpr", "-Xfatbin=-compress-all"]


def want_extension() -> bool:
    return os.environ.get("WMK_NO_EXTENSION", "0") != "1"


_toolkit_cache = {}


def toolkit():
    """The CUDA toolkit for this torch (wmkernels/_toolkit.py), cached; also makes torch's
    cpp_extension use it (CUDA_HOME), as torch's own guess trips over a wrapper nvcc.
    Raises _toolkit.ToolkitMissing saying what is missing."""
    import torch
    key = (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), os.environ.get("PATH"), torch.version.cuda)
    if key not in _toolkit_cache:
        _toolkit_cache[key] = _toolkit.find(torch.version.cuda)
    found = _toolkit_cache[key]
    os.environ["CUDA_HOME"] = found.home
    cpp_extension = sys.modules.get("torch.utils.cpp_extension")
    if cpp_extension is not None:
        cpp_extension.CUDA_HOME = found.home
    return found


def nvcc_path():
    """The nvcc of the CUDA toolkit found for this build, else None."""
    try:
        return toolkit().nvcc
    except _toolkit.ToolkitMissing:
        return None


def nvcc_version(nvcc=None):
    """(major, minor) of nvcc, or None."""
    nvcc = nvcc or nvcc_path()
    return _toolkit.nvcc_version(nvcc) if nvcc else None


def cuda_reason():
    """None if the CUDA kernels can be built here, else why not."""
    import torch
    if os.environ.get("WMK_FORCE_CUDA") == "0":
        return "WMK_FORCE_CUDA=0"
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is not a CUDA build"
    try:
        toolkit()
    except _toolkit.ToolkitMissing as err:
        return str(err)
    return None


def want_cuda() -> bool:
    """Whether to build the CUDA kernels; with WMK_FORCE_CUDA=1 a missing piece stops at once."""
    reason = cuda_reason()
    if reason is not None and os.environ.get("WMK_FORCE_CUDA") == "1":
        raise RuntimeError(f"WMK_FORCE_CUDA=1 but the CUDA kernels cannot be built: {reason}")
    return reason is None


def arch_list() -> str:
    """The requested architectures, as written: TORCH_CUDA_ARCH_LIST, WMK_CUDA_ARCHS or the default."""
    return os.environ.get("TORCH_CUDA_ARCH_LIST") or os.environ.get("WMK_CUDA_ARCHS") or _archs.DEFAULT_ARCHS


def cuda_archs(nvcc_ver=None):
    """Requested architectures ("8.0", "9.0a", ...) that the installed nvcc can target; warns
    about those it drops (wmkernels/_archs.py reads every spelling)."""
    kept, dropped = _archs.select(arch_list(), nvcc_ver)
    if dropped:
        version = ".".join(map(str, nvcc_ver))
        warnings.warn(f"wmkernels: nvcc {version} cannot target {', '.join('sm_' + _archs.sm_name(a) for a in dropped)}"
                      f"; building for {', '.join('sm_' + _archs.sm_name(a) for a in kept)} only", stacklevel=2)
    return kept


def gencode_flags(archs):
    """One -gencode per architecture (SASS) plus PTX for the newest."""
    return _archs.gencode_flags(archs)


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


def torch_public_version(version=None) -> str:
    """torch's version without the local part: "2.14.1" for "2.14.1+cu130"."""
    import torch
    return (version or torch.__version__).split("+")[0]


def local_version(with_cuda: bool, archs=()) -> str:
    """The wheel's local version: cu130.torch2.14.1.sm80.sm90 for CUDA, cpu.torch2.13.0 otherwise."""
    import torch
    if with_cuda:
        return f"cu{torch.version.cuda.replace('.', '')}.torch{torch_public_version()}.{_archs.tag(archs)}"
    return f"cpu.torch{torch_public_version()}"


_LOCAL = re.compile(r"\+(?:cu(?P<cuda>\d+)|cpu)\.torch(?P<torch>\d+(?:\.\d+)*)(?:\.(?P<archs>sm.*))?$")


def built_against(version: str):
    """The inverse of local_version for a full package version: {"torch": "2.14.1",
    "cuda": "13.0" or None, "archs": ["sm80", "sm90"]}, or None for a version without one."""
    match = _LOCAL.search(version or "")
    if match is None:
        return None
    cuda = match["cuda"]
    return {"torch": match["torch"], "cuda": f"{cuda[:-1]}.{cuda[-1]}" if cuda else None,
            "archs": match["archs"].split(".") if match["archs"] else []}


def requirements(with_extension: bool):
    """Install requirements: the extension works with the exact torch it was compiled against."""
    torch_req = f"torch=={torch_public_version()}" if with_extension else TORCH_REQUIREMENT
    return [torch_req, "numpy"]


def sources(with_cuda: bool):
    names = CPU_SOURCES + (CUDA_SOURCES if with_cuda else ())
    return [str(CSRC / name) for name in names]


def csrc_files():
    """Every file under csrc/: the extensions' `depends`, so that a header change rebuilds and
    an sdist holds the CUDA sources too, wherever it was made."""
    return sorted(str(p) for p in CSRC.rglob("*") if p.is_file())


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


def include_dirs(generated_dir, with_cuda: bool = False):
    """csrc/, the generated header, and in a CUDA build the pip include folders that supply
    toolkit headers the toolkit itself lacks."""
    return [str(CSRC), str(generated_dir)] + (list(toolkit().extra_include_dirs) if with_cuda else [])


# ---- setup.py ---------------------------------------------------------------------------
def setup_config(base_version: str) -> dict:
    """Keyword arguments for setuptools.setup(): version (with the local version when the
    extension is built), install_requires, ext_modules and cmdclass.

    A CUDA build makes two extensions: wmkernels._C with every kernel, and wmkernels._C_cpu
    with the CPU kernels only, which links none of torch's CUDA libraries and so still loads
    beside a CPU build of the same torch (wmkernels/_prebuilt.py). The CPU kernel objects are
    compiled once, for _C_cpu, and linked into both."""
    if not want_extension():
        return {"version": base_version, "install_requires": requirements(False), "ext_modules": [],
                "cmdclass": {}}
    with_cuda = want_cuda()  # before torch.utils.cpp_extension is imported: it fixes CUDA_HOME
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension
    set_max_jobs(with_cuda)
    cxx, nvcc, archs = flags(with_cuda)
    generated = write_build_info(ROOT / "build" / "wmk_generated", "setup.py", with_cuda, cxx, nvcc, archs)
    depends = [os.path.relpath(f, ROOT) for f in csrc_files()]
    rel = [os.path.relpath(s, ROOT) for s in sources(with_cuda)]
    config = {"version": f"{base_version}+{local_version(with_cuda, archs)}", "install_requires": requirements(True),
              "cmdclass": {"build_ext": BuildExtension.with_options(no_python_abi_suffix=False)}}
    if not with_cuda:
        config["ext_modules"] = [CppExtension(EXTENSION, rel, include_dirs=include_dirs(generated), depends=depends,
                                              extra_compile_args={"cxx": cxx}, extra_link_args=LINK_FLAGS)]
        return config
    cpu_cxx = [f for f in cxx if f != "-DWMK_WITH_CUDA"]
    cpu_generated = write_build_info(ROOT / "build" / "wmk_generated" / "cpu_only", "setup.py (CPU-only copy)",
                                     False, cpu_cxx, [], [])
    cpu_rel = [os.path.relpath(s, ROOT) for s in sources(False)]
    shared = [s for s in cpu_rel if not s.endswith("bindings.cpp")]
    cpu_only = CppExtension(CPU_ONLY_EXTENSION, cpu_rel, include_dirs=include_dirs(cpu_generated), depends=depends,
                            extra_compile_args={"cxx": cpu_cxx}, extra_link_args=LINK_FLAGS)
    full = CUDAExtension(EXTENSION, [s for s in rel if s not in shared], include_dirs=include_dirs(generated, True),
                         depends=depends, extra_compile_args={"cxx": cxx, "nvcc": nvcc}, extra_link_args=LINK_FLAGS)
    config["ext_modules"] = [cpu_only, full]  # built in this order
    config["cmdclass"]["build_ext"] = _sharing_build_ext(BuildExtension, full.name, shared)
    return config


def _sharing_build_ext(build_extension_class, name, shared_sources):
    """torch's BuildExtension, linking the objects already compiled from `shared_sources` (for
    an extension built earlier) into extension `name` as well."""
    class SharingBuildExtension(build_extension_class):
        def build_extension(self, ext):
            if ext.name == name:
                objects = self.compiler.object_filenames(shared_sources, output_dir=self.build_temp)
                missing = [o for o in objects if not os.path.exists(o)]
                if missing:
                    raise RuntimeError(f"{name} links objects of the CPU-only extension that were not built: {missing}")
                ext.extra_objects = list(ext.extra_objects or []) + objects
            super().build_extension(ext)
    return SharingBuildExtension.with_options(no_python_abi_suffix=False)


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
    for module in (__file__, _archs.__file__, _toolkit.__file__):
        digest.update(Path(module).read_bytes())
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
    with_cuda = want_cuda()  # before torch.utils.cpp_extension is imported: it fixes CUDA_HOME
    from torch.utils.cpp_extension import load
    set_max_jobs(with_cuda)
    cxx, nvcc, archs = flags(with_cuda)
    build_dir = cache_dir(with_cuda)
    generated = write_build_info(build_dir / "generated", "jit", with_cuda, cxx, nvcc, archs)
    (build_dir / "build").mkdir(parents=True, exist_ok=True)
    return load(name=JIT_NAME, sources=sources(with_cuda), extra_cflags=cxx, extra_ldflags=LINK_FLAGS,
                extra_cuda_cflags=nvcc if with_cuda else None, extra_include_paths=include_dirs(generated, with_cuda),
                build_directory=str(build_dir / "build"), with_cuda=with_cuda, verbose=verbose)
