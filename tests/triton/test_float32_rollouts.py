"""rollout / rollout_grad of the float32 kernels (Triton; CUDA on a GPU) against the naive float64
reference (relative-error norm)."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model, random_problem, rel_err
from triton_cases import TOL, backend, objective_kwargs, poison, requires_triton  # noqa: F401

# (D, A, widths, T, N, P, activation, skip, objective)
CASES = [
    (7, 3, (19,), 5, 3, 2, "relu", "identity", "last"),
    (7, 3, (19, 11), 4, 5, 2, "silu", "matrix", "all+q+penalty"),
    (16, 10, (32, 32), 5, 1, 3, "gelu", "identity", "weights+q"),
    (5, 2, (8, 12, 6), 3, 17, 1, "tanh", "zero", "all"),
    (3, 1, (40,), 2, 2, 2, "elu", "matrix", "last+penalty"),
    (33, 5, (70, 20, 9, 13), 3, 4, 1, "relu", "matrix", "all+q"),
    (70, 7, (24,), 2, 2, 1, "gelu", "matrix", "weights+penalty"),
    (4, 2, (9,), 2, 40, 1, "silu", "identity", "all+penalty"),
    (1, 1, (1,), 1, 1, 1, "tanh", "identity", "last"),
    (6, 4, (130,), 2, 2, 1, "elu", "zero", "q+all"),
]


def case_id(c):
    D, A, H, T, N, P, act, skip, obj = c
    return f"D={D},A={A},H={','.join(map(str, H))},T={T},N={N},P={P},{act},{skip},{obj}"


def _setup(case, device, dtype=torch.float64):
    D, A, H, T, N, P, act, skip, kind = case
    model = random_model(D, A, H, act, skip, dtype=dtype, device=device)
    z0, actions, goal = random_problem(P, N, T, D, A, dtype=dtype, device=device)
    obj = wmk.Objective(**objective_kwargs(kind, T, D, A))
    return model, z0, actions, goal, obj


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rollout_matches_naive(case, backend, device, poison):
    model, z0, actions, goal, obj = _setup(case, device)
    cost, states = wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend=backend)
    ref_cost, ref_states = wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend="torch")
    assert cost.dtype == torch.float64 and cost.shape == ref_cost.shape
    assert states.shape == ref_states.shape
    assert rel_err(cost, ref_cost) < TOL
    assert rel_err(states, ref_states) < TOL
    assert rel_err(wmk.ops.rollout(model, z0, actions, goal, obj, backend=backend), ref_cost) < TOL


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rollout_grad_matches_naive(case, backend, device, poison):
    model, z0, actions, goal, obj = _setup(case, device)
    cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
    ref_cost, ref_grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")
    assert grad.shape == actions.shape and grad.dtype == actions.dtype
    assert rel_err(cost, ref_cost) < TOL
    assert rel_err(grad, ref_grad) < TOL


@pytest.mark.parametrize("act", ["relu", "silu", "gelu", "tanh", "elu"])
def test_float32_model_every_activation(act, backend, device, poison):
    """A float32 model on the kernel, against the same weights in float64 on naive."""
    case = (6, 3, (20, 17), 3, 3, 1, act, "matrix", "all+q+penalty")
    model, z0, actions, goal, obj = _setup(case, device, dtype=torch.float32)
    cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
    assert cost.dtype == torch.float32
    m64 = model.to(dtype=torch.float64)
    ref_cost, ref_grad = wmk.ops.rollout_grad(m64, z0.double(), actions.double(), goal.double(), obj,
                                              backend="torch")
    assert rel_err(cost, ref_cost) < TOL
    assert rel_err(grad, ref_grad) < TOL


def test_noncontiguous_actions(backend, device, poison):
    model, z0, actions, goal, obj = _setup((5, 3, (16,), 3, 4, 2, "relu", "identity", "all"), device)
    strided = actions.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous()
    cost = wmk.ops.rollout(model, z0, strided, goal, obj, backend=backend)
    assert rel_err(cost, wmk.ops.rollout(model, z0, actions, goal, obj, backend="torch")) < TOL


@requires_triton
def test_persistent_grid_loops_over_tiles(device, poison, monkeypatch):
    """With a tiny scratch budget one program runs every tile in turn."""
    from wmkernels.ops import _triton_lib
    monkeypatch.setattr(_triton_lib, "SCRATCH_BUDGET", 1)
    model, z0, actions, goal, obj = _setup((5, 2, (16,), 2, 20, 2, "tanh", "matrix", "all+penalty"), device)
    assert _triton_lib.num_programs(4, 1000, torch.device("cpu")) == 1
    cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="triton")
    ref_cost, ref_grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")
    assert rel_err(cost, ref_cost) < TOL and rel_err(grad, ref_grad) < TOL
