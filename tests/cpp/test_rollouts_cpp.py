"""backend="cpp" rollout / rollout_grad against the naive float64 reference."""
import pytest
import torch

import wmkernels as wmk
from wmkernels import ops

from cpp_helpers import poison  # noqa: F401  (autouse fixture)
from cpp_helpers import cpp_reason
from helpers import random_model, rel_err as relative_error

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))

TOL = 1e-5
ACTIVATIONS = ("relu", "silu", "gelu", "tanh", "elu")
SKIPS = ("identity", "matrix", "zero")

# (P, N, T, D, A, widths): odd sizes, 1-4 hidden layers, a tile boundary crossed (N * P > 8).
SHAPES = {
    "P1-N1-T1-D3-A1-w5": (1, 1, 1, 3, 1, (5,)),
    "P3-N7-T4-D5-A3-w17x9": (3, 7, 4, 5, 3, (17, 9)),
    "P2-N13-T6-D11-A2-w33x20x7": (2, 13, 6, 11, 2, (33, 20, 7)),
    "P5-N3-T3-D16-A10-w40x31x23x19": (5, 3, 3, 16, 10, (40, 31, 23, 19)),
    "P4-N9-T5-D16-A10-w256x256": (4, 9, 5, 16, 10, (256, 256)),
}

OBJECTIVES = {
    "last": lambda D, A: wmk.Objective(mode="last"),
    "all-base0.5": lambda D, A: wmk.Objective(mode="all", base=0.5),
    "explicit-q-penalty": lambda D, A: None,  # built per horizon below
}


def make_objective(name, T, D, A):
    if name == "explicit-q-penalty":
        gen = torch.Generator().manual_seed(T * 31 + D)
        return wmk.Objective(weights=torch.rand(T, generator=gen) + 0.1, q=torch.rand(D, generator=gen),
                             action_penalty=0.05, lo=-0.7, hi=0.9)
    return OBJECTIVES[name](D, A)


def problem(P, N, T, D, A, seed=1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(P, D, generator=gen, dtype=dtype), torch.randn(P, D, generator=gen, dtype=dtype),
            torch.randn(P, N, T, A, generator=gen, dtype=dtype))


def check_both(model, z0, goal, actions, obj, tol=TOL):
    ref_cost, ref_states = ops.rollout(model, z0, actions, goal, obj, return_states=True, backend="torch")
    cost, states = ops.rollout(model, z0, actions, goal, obj, return_states=True, backend="cpp")
    cost_only = ops.rollout(model, z0, actions, goal, obj, backend="cpp")
    assert cost.shape == ref_cost.shape and states.shape == ref_states.shape
    assert cost.dtype == actions.dtype and states.dtype == actions.dtype
    assert torch.isfinite(cost).all() and torch.isfinite(states).all()
    assert relative_error(cost, ref_cost) < tol
    assert relative_error(cost_only, ref_cost) < tol
    assert relative_error(states, ref_states) < tol
    ref_gcost, ref_grad = ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")
    gcost, grad = ops.rollout_grad(model, z0, actions, goal, obj, backend="cpp")
    assert grad.shape == ref_grad.shape and torch.isfinite(grad).all()
    assert relative_error(gcost, ref_gcost) < tol
    assert relative_error(grad, ref_grad) < tol


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("skip", SKIPS)
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_rollout_matches_naive(activation, skip, shape):
    P, N, T, D, A, widths = SHAPES[shape]
    model = random_model(D, A, widths, activation, skip, seed=len(widths))
    z0, goal, actions = problem(P, N, T, D, A)
    check_both(model, z0, goal, actions, make_objective("explicit-q-penalty", T, D, A))


@pytest.mark.parametrize("objective", list(OBJECTIVES), ids=list(OBJECTIVES))
@pytest.mark.parametrize("layers", [1, 2, 3, 4], ids=lambda l: f"L{l}")
def test_rollout_objectives_and_depths(objective, layers):
    P, N, T, D, A = 3, 5, 4, 7, 3
    model = random_model(D, A, [19, 12, 25, 9][:layers], "silu", "matrix", seed=layers)
    z0, goal, actions = problem(P, N, T, D, A, seed=layers)
    check_both(model, z0, goal, actions, make_objective(objective, T, D, A))


@pytest.mark.parametrize("isa", ["avx512", "avx2", "base"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_every_instruction_set(monkeypatch, isa, activation):
    """float32 runs the AVX-512 / AVX2 / baseline code (WMK_CPU_ISA lowers the choice)."""
    monkeypatch.setenv("WMK_CPU_ISA", isa)
    P, N, T, D, A = 3, 11, 5, 16, 10
    model64 = random_model(D, A, (70, 45), activation, "matrix", seed=7)
    z0, goal, actions = problem(P, N, T, D, A, seed=7)
    obj = make_objective("explicit-q-penalty", T, D, A)
    ref_cost, ref_grad = ops.rollout_grad(model64, z0, actions, goal, obj, backend="torch")
    model32 = model64.to(dtype=torch.float32)
    cost, grad = ops.rollout_grad(model32, z0.float(), actions.float(), goal.float(), obj, backend="cpp")
    assert cost.dtype == torch.float32
    assert relative_error(cost, ref_cost) < 1e-5
    assert relative_error(grad, ref_grad) < 1e-4


def test_half_precision_is_computed_in_float32():
    P, N, T, D, A = 2, 3, 2, 4, 2
    model = random_model(D, A, (8,), "tanh", "identity", dtype=torch.float32)
    z0, goal, actions = problem(P, N, T, D, A, dtype=torch.float32)
    obj = wmk.Objective()
    ref = ops.rollout(model, z0, actions, goal, obj, backend="torch")
    cost = ops.rollout(model.to(dtype=torch.bfloat16), z0.bfloat16(), actions.bfloat16(), goal.bfloat16(), obj,
                       backend="cpp")
    assert cost.dtype == torch.bfloat16
    assert relative_error(cost, ref) < 5e-2


def test_adam_step_matches_naive():
    gen = torch.Generator().manual_seed(3)
    shape = (3, 4, 5, 7)
    actions, grad, noise = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(3))
    m, v = torch.randn(shape, generator=gen, dtype=torch.float64), torch.rand(shape, generator=gen, dtype=torch.float64)
    lo = -torch.rand(7, generator=gen, dtype=torch.float64)
    hi = torch.rand(7, generator=gen, dtype=torch.float64)
    results = []
    for backend in ("torch", "cpp"):
        a, mm, vv = actions.clone(), m.clone(), v.clone()
        out = ops.adam_step(a, grad, mm, vv, 4, 0.05, 0.8, 0.99, 1e-6, lo, hi, 0.01 * noise, backend=backend)
        assert out is a
        results.append((a, mm, vv))
    for got, ref in zip(results[1], results[0]):
        assert relative_error(got, ref) < 1e-12


def test_compile_treats_ops_as_opaque():
    """torch.library schemas (+ fake impls): the fused op is one opaque node under torch.compile."""
    from wmkernels import _extension as ext
    model = random_model(4, 2, (8,), "relu", "identity", dtype=torch.float32)
    z0, goal, actions = problem(2, 3, 2, 4, 2, dtype=torch.float32)
    obj = wmk.Objective().resolve(2, 4, 2, torch.float32)
    wmk_ops = ext.ops()
    margs = ext.model_args(model, torch.float32, actions.device)
    oargs = ext.objective_args(obj, torch.float32)

    def f(a):
        cost, grad = wmk_ops.rollout_grad(z0, a, goal, *margs, *oargs)
        return cost.sum() + grad * 2.0

    compiled = torch.compile(f, backend="eager", fullgraph=True)
    assert torch.allclose(compiled(actions), f(actions))
