"""Import of the prebuilt extension from a wheel, checked against the torch installed beside it.

A wheel's extension is compiled against one torch (its version says which, and its metadata
pins it: 0.1.0+cu130.torch2.14.1.sm90 requires torch==2.14.1). With another torch it would
fail to load with a linker error, or load and misbehave, so it is not loaded; instead a
warning and the ImportError, which becomes the backends' unavailability reason, say what is
installed and what is needed.

A CUDA wheel also holds a CPU-only copy of the extension, wmkernels._C_cpu, that links none of
torch's CUDA libraries: beside a CPU build of the same torch version it keeps the cpp backend.
"""
import importlib
import importlib.metadata
import importlib.util
import warnings
from pathlib import Path

PREBUILT = "wmkernels._C"
CPU_ONLY = "wmkernels._C_cpu"


def installed_version(origin):
    """The version of the installed wmkernels distribution that holds the file `origin` (the
    extension about to be loaded), or None: a source checkout or an editable install, where the
    extension is built against the torch beside it (and metadata lying in the tree, such as a
    wheel build's egg-info, says nothing about it)."""
    target = Path(origin).resolve()
    for dist in importlib.metadata.distributions(name="wmkernels"):
        for file in dist.files or ():
            if str(file).startswith("wmkernels/_C") and Path(dist.locate_file(file)).resolve() == target:
                return dist.version
    return None


def mismatch(version: str, torch_version: str, torch_cuda):
    """(problem, cpu_only_ok): a sentence saying how torch `torch_version` (CUDA `torch_cuda` or
    None) differs from the one wmkernels `version` was built against, or None when it matches;
    and whether the CPU-only copy of the extension can still be used."""
    from . import _build
    built = _build.built_against(version)
    if built is None:
        return None, True
    needed = f"torch=={built['torch']}" + (f" built with CUDA {built['cuda']}" if built["cuda"] else "")
    if torch_version.split("+")[0] != built["torch"]:
        return (f"wmkernels {version} was built against torch {built['torch']}, but torch {torch_version} is "
                f"installed; its compiled extension works only with the torch it was compiled against "
                f"(torch's C++ interface changes between versions), so neither its CUDA nor its CPU kernels "
                f"can be loaded. Install {needed}, or build wmkernels from source against this torch "
                f"(README, \"Building wheels\")"), False
    if built["cuda"] and not torch_cuda:
        return (f"wmkernels {version} holds CUDA {built['cuda']} kernels, but torch {torch_version} is a CPU "
                f"build without torch's CUDA libraries (libc10_cuda.so, libtorch_cuda.so) that they link "
                f"against. Install {needed} for the cuda backend"), True
    if built["cuda"] and torch_cuda.split(".")[0] != built["cuda"].split(".")[0]:
        return (f"wmkernels {version} holds CUDA {built['cuda']} kernels, but torch {torch_version} uses "
                f"CUDA {torch_cuda}, whose runtime they cannot load. Install {needed} for the cuda backend"), True
    return None, True


def _origin(name: str):
    """The file a module would be loaded from, or None."""
    spec = importlib.util.find_spec(name)
    return spec.origin if spec is not None else None


def _cpu_only(problem: str):
    """The CPU-only copy of the extension, its build_info() also reporting `problem`."""
    module = importlib.import_module(CPU_ONLY)
    build_info = module.build_info
    module.build_info = lambda: {**build_info(), "warning": problem}
    return module


def import_prebuilt():
    """The prebuilt extension module for the installed torch; ImportError saying why when there
    is none (not built, or built against another torch), with a warning in the latter case."""
    import torch
    origin = _origin(PREBUILT)
    if origin is None:
        return importlib.import_module(PREBUILT)  # raises: nothing prebuilt (a source checkout)
    version = installed_version(origin)
    problem, cpu_only_ok = mismatch(version, torch.__version__, torch.version.cuda) if version else (None, True)
    if problem is None:
        return importlib.import_module(PREBUILT)
    if cpu_only_ok and _origin(CPU_ONLY) is not None:
        warnings.warn(f"{problem}; the cpp backend uses the CPU-only copy of the extension", RuntimeWarning,
                      stacklevel=3)
        return _cpu_only(problem)
    warnings.warn(problem, RuntimeWarning, stacklevel=3)
    raise ImportError(problem)
