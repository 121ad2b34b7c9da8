"""The activations every backend implements, with their derivatives.

    relu(x) = max(x, 0)                      relu'(x) = [x > 0]
    silu(x) = x s(x), s = sigmoid            silu'(x) = s(x) (1 + x (1 - s(x)))
    gelu(x) = x/2 (1 + tanh(u)),             gelu'(x) = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) u'(x)
              u = c (x + 0.044715 x^3), c = sqrt(2/pi), u'(x) = c (1 + 3 * 0.044715 x^2)
    tanh(x)                                  tanh'(x) = 1 - tanh^2(x)
    elu(x)  = x if x > 0 else exp(x) - 1     elu'(x)  = 1 if x > 0 else exp(x)

NAMES is the one table of activation names and their ids (the position in NAMES): the fused
ops take the id (wmkernels/ops/schema.py), the Triton kernels switch on it
(wmkernels/ops/_triton/device.py) and the C++/CUDA kernels name it in csrc/activations.h.
tests/test_activations.py pins every backend to this table.
"""
import math

import torch

NAMES = ("relu", "silu", "gelu", "tanh", "elu")
IDS = {name: i for i, name in enumerate(NAMES)}
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


def apply(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(x)
    if name == "silu":
        return x * torch.sigmoid(x)
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.tanh(_GELU_C * (x + _GELU_K * x * x * x)))
    if name == "tanh":
        return torch.tanh(x)
    if name == "elu":
        return torch.where(x > 0, x, torch.expm1(x))
    raise ValueError(f"activation must be one of {NAMES}, got {name!r}")


def derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """d act / dx evaluated at the pre-activation x."""
    if name == "relu":
        return (x > 0).to(x.dtype)
    if name == "silu":
        s = torch.sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if name == "gelu":
        th = torch.tanh(_GELU_C * (x + _GELU_K * x * x * x))
        return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * _GELU_C * (1.0 + 3.0 * _GELU_K * x * x)
    if name == "tanh":
        th = torch.tanh(x)
        return 1.0 - th * th
    if name == "elu":
        return torch.where(x > 0, torch.ones_like(x), torch.exp(x))
    raise ValueError(f"activation must be one of {NAMES}, got {name!r}")


def module(name: str) -> torch.nn.Module:
    """The torch.nn layer computing the same function."""
    layers = {"relu": torch.nn.ReLU, "silu": torch.nn.SiLU, "tanh": torch.nn.Tanh,
              "elu": lambda: torch.nn.ELU(alpha=1.0),
              "gelu": lambda: torch.nn.GELU(approximate="tanh")}
    if name not in layers:
        raise ValueError(f"activation must be one of {NAMES}, got {name!r}")
    return layers[name]()


def name_of(layer: torch.nn.Module):
    """The activation name of a torch.nn layer, or None if it is not one we support."""
    if isinstance(layer, torch.nn.ReLU):
        return "relu"
    if isinstance(layer, torch.nn.SiLU):
        return "silu"
    if isinstance(layer, torch.nn.Tanh):
        return "tanh"
    if isinstance(layer, torch.nn.ELU):
        if layer.alpha != 1.0:
            raise ValueError(f"only ELU(alpha=1.0) is supported, got alpha={layer.alpha}")
        return "elu"
    if isinstance(layer, torch.nn.GELU):
        if layer.approximate != "tanh":
            raise ValueError("only GELU(approximate='tanh') is supported; the exact erf form is not")
        return "gelu"
    return None
