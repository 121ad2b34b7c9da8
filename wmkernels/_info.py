"""wmkernels.info(): what this install can run, and why not where it cannot."""
import importlib.metadata
import platform
from pathlib import Path

import torch

from . import _backend, _extension


def package_version(package: str):
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def chip_name(device: torch.device) -> str:
    """The GPU's name for a CUDA device, else the CPU's model name (/proc/cpuinfo where it exists)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
                reason += "" if package_version("triton") else "; triton is not installed"
        else:
            reason = _backend.unavailable_reason(name, device)
        backends[name] = "available" if reason is None else reason
    report = {
        "wmkernels": package_version("wmkernels") or "source tree",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "triton": package_version("triton"),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "extension": _extension.describe(),
        "backends": backends,
    }
    if verbose:
        for key, value in report.items():
            print(f"{key:>12}: {value}")
    return report
