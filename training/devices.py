"""Torch devices by name, for training and evaluation alike."""

from __future__ import annotations

import torch


def resolve_device(name: str, argument: str = "device", error: type[Exception] = ValueError) -> torch.device:
    """``torch.device(name)``, with ``auto`` meaning cuda if torch sees a CUDA device, else cpu.

    A ``cuda`` name without a CUDA device raises ``error`` naming ``argument``.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"{argument}: {name!r} asked for but torch sees no CUDA device")
    return torch.device(name)
