"""wmkernels.info(): what this install can run, and why not where it cannot."""
import importlib.metadata
import platform

import torch

from . import _backend, _extension


def _version(package: str):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def info(verbose: bool = False) -> dict:
    """A dict of versions, devices, the extension build and each backend's availability.

    backends maps name -> "available" or the reason it is not, for the device it serves
    (cpu for torch and cpp, the first CUDA device for triton and cuda)."""
    cuda = torch.device("cuda") if torch.cuda.is_available() else torch.device("cuda", 0)
    targets = {"torch": torch.device("cpu"), "cpp": torch.device("cpu"), "triton": cuda, "cuda": cuda}
    backends = {}
    for name, device in targets.items():
        if name in ("triton", "cuda") and not torch.cuda.is_available():
            reason = "no CUDA device is visible to torch"
            if name == "triton":
                reason += "" if _version("triton") else "; triton is not installed"
        else:
            reason = _backend.unavailable_reason(name, device)
        backends[name] = "available" if reason is None else reason
    report = {
        "wmkernels": _version("wmkernels") or "source tree",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "triton": _version("triton"),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "extension": _extension.describe(),
        "backends": backends,
    }
    if verbose:
        for key, value in report.items():
            print(f"{key:>12}: {value}")
    return report
