"""One table of activation names and ids (wmkernels.activations.NAMES / IDS) for every backend.

The C++/CUDA enum (csrc/activations.h) must list the same names in the same order, and each
backend, given an id, must compute that activation: a one-layer model whose output is
z + act(z) evaluates the backend's activation of the id next to the float64 reference.
"""
import re
from pathlib import Path

import pytest
import torch

import wmkernels as wmk
from wmkernels import _backend, activations
from wmkernels.ops import _fused, schema

ROOT = Path(__file__).resolve().parents[1]


def test_ids_are_the_positions_in_names():
    assert activations.IDS == {name: i for i, name in enumerate(activations.NAMES)}
    assert len(set(activations.NAMES)) == len(activations.NAMES)


def test_the_cpp_enum_lists_the_same_names_in_the_same_order():
    text = (ROOT / "csrc" / "activations.h").read_text()
    enum = re.search(r"enum Activation : int \{([^}]*)\}", text).group(1)
    entries = [e.split("=") for e in enum.split(",")]
    ids = {name.strip(): int(value) for name, value in entries}
    count = ids.pop("kNumActivations")
    assert count == len(activations.NAMES)
    assert {f"k{name.capitalize()}": i for i, name in enumerate(activations.NAMES)} == ids


def test_the_cuda_and_cpu_kernels_share_one_definition():
    """csrc/activation_math.h is the only place the formulas live."""
    assert '#include "activation_math.h"' in (ROOT / "csrc" / "cuda" / "common.cuh").read_text()
    assert '#include "activation_math.h"' in (ROOT / "csrc" / "cpu" / "mlp_tile.h").read_text()
    for path in (ROOT / "csrc").rglob("*"):
        if path.is_file() and path.name != "activation_math.h":
            assert "0.044715" not in path.read_text(), f"{path} repeats the gelu constant"


def _identity_model(D, dtype):
    """z' = z + act(z): W_1 = [I; 0] (the action is ignored), b = 0, W_o = I."""
    w1 = torch.cat([torch.eye(D, dtype=dtype), torch.zeros(1, D, dtype=dtype)])
    return [w1, torch.eye(D, dtype=dtype)], [torch.zeros(D, dtype=dtype), torch.zeros(D, dtype=dtype)]


@pytest.mark.parametrize("backend", ["triton", "cpp", "cuda"])
@pytest.mark.parametrize("name", activations.NAMES)
def test_each_backend_computes_the_activation_of_each_id(backend, name, device):
    reason = _backend.unavailable_reason(backend, device)
    if reason is not None:
        pytest.skip(reason)
    dtype = torch.float64 if backend == "cpp" else torch.float32
    D = 37
    x = torch.linspace(-6.0, 6.0, D, dtype=torch.float64)
    weights, biases = _identity_model(D, torch.float64)
    model = wmk.MLPWorldModel(weights, biases, name).to(device=device, dtype=dtype)
    obj = wmk.Objective(mode="last").resolve(1, D, 1, dtype, device)
    z0 = x[None].to(device=device, dtype=dtype)
    goal, actions = torch.zeros_like(z0), torch.zeros(1, 1, 1, 1, dtype=dtype, device=device)
    _fused.load(backend)
    weights, biases, skip, _ = _fused.model_args(model, dtype)
    _, states = schema.packet("rollout", backend)(z0, goal, actions, weights, biases, skip, activations.IDS[name],
                                                  *_fused.objective_args(obj, dtype), True)
    got = (states[0, 0, 1] - states[0, 0, 0]).double().cpu()
    ref = activations.apply(name, x)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    assert torch.allclose(got, ref, atol=tol, rtol=tol), (got - ref).abs().max()
