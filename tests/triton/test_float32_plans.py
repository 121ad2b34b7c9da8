"""Whole plans (gbp_plan, cem_plan, mppi_plan) and adam_step of the float32 kernels (Triton; CUDA on
a GPU) against naive."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model, random_problem, rel_err
from triton_cases import TOL, backend, objective_kwargs, plan_tolerance, poison, requires_triton  # noqa: F401


def _problem(D, A, H, T, N, P, act, skip, kind, device, seed=0):
    model = random_model(D, A, H, act, skip, device=device, seed=seed)
    z0, actions, goal = random_problem(P, N, T, D, A, device=device, seed=seed + 1)
    obj = wmk.Objective(**objective_kwargs(kind, T, D, A))
    return model, z0, actions, goal, obj


def _compare_plans(run, backend, model, args64, args32):
    """run(model, *args, backend) -> tuple; the kernel backend (float64 in, float32 inside) vs naive
    float64, within plan_tolerance of the naive float32 error."""
    out = run(model, *args64, backend=backend)
    ref = run(model, *args64, backend="torch")
    ref32 = run(model.to(dtype=torch.float32), *args32, backend="torch")
    for name, o, r, r32 in zip(("actions", "cost", "history"), out, ref, ref32):
        assert o.shape == r.shape and o.dtype == r.dtype, name
        tol = plan_tolerance(rel_err(r32, r))
        assert rel_err(o, r) < tol, (name, rel_err(o, r), tol)
    return out, ref


def _as32(args):
    return [a.float() if isinstance(a, torch.Tensor) else a for a in args]


# (D, A, H, T, N, P, act, skip, objective, optimizer, noise, iters)
GBP_CASES = [
    (7, 3, (19,), 4, 1, 2, "tanh", "identity", "all+penalty+bounds", "adam", 0.003, 4),
    (5, 2, (16, 9), 3, 3, 2, "silu", "matrix", "last+q", "adam", 0.0, 3),
    (6, 4, (12,), 3, 17, 1, "gelu", "zero", "weights+bounds", "sgd", 0.01, 3),
    (4, 1, (20,), 2, 2, 1, "elu", "identity", "all", "sgd", 0.0, 3),
    (7, 3, (70, 130), 3, 2, 2, "relu", "identity", "all+bounds", "adam", 0.003, 3),  # several 64/128 chunks
]


def gbp_id(c):
    D, A, H, T, N, P, act, skip, obj, opt, noise, iters = c
    return f"D={D},A={A},H={','.join(map(str, H))},T={T},N={N},P={P},{act},{skip},{obj},{opt},noise={noise},iters={iters}"


@pytest.mark.parametrize("case", GBP_CASES, ids=gbp_id)
def test_gbp_plan_matches_naive(case, backend, device, poison):
    D, A, H, T, N, P, act, skip, kind, opt, noise, iters = case
    model, z0, init, goal, obj = _problem(D, A, H, T, N, P, act, skip, kind, device)

    def run(m, z0, goal, init, backend):
        return wmk.ops.gbp_plan(m, z0, goal, obj, init, iters, 0.1, opt, noise=noise, seed=7,
                                backend=backend)
    out, ref = _compare_plans(run, backend, model, (z0, goal, init), _as32((z0, goal, init)))
    assert out[2].shape == (P, iters)


def test_gbp_argmin_picks_the_best_candidate(backend, device, poison):
    model, z0, init, goal, obj = _problem(5, 2, (16,), 3, 5, 2, "relu", "identity", "all", device)
    actions, cost, _ = wmk.ops.gbp_plan(model, z0, goal, obj, init, 2, 0.05, backend=backend)
    recomputed = wmk.ops.rollout(model, z0, actions[:, None], goal, obj, backend="torch")[:, 0]
    assert rel_err(cost, recomputed) < TOL


# (D, A, H, T, S, P, act, skip, objective, elites/temperature, momentum, iters)
SAMPLING_CASES = [
    (7, 3, (19,), 4, 37, 2, "silu", "identity", "all+penalty+bounds", 5, 0.1, 3),
    (5, 2, (16, 8), 3, 16, 1, "relu", "matrix", "last+q", 4, 0.0, 2),
    (4, 2, (10,), 2, 70, 1, "tanh", "zero", "weights+bounds", 9, 0.5, 2),
]


def sampling_id(c):
    D, A, H, T, S, P, act, skip, obj, k, mom, iters = c
    return f"D={D},A={A},H={','.join(map(str, H))},T={T},S={S},P={P},{act},{skip},{obj},k={k},mom={mom},iters={iters}"


@pytest.fixture(params=["fused", "multi"])
def sampling_path(request, backend, monkeypatch):
    """Triton's one-launch plan or its launch-per-iteration path (other backends have one path)."""
    if backend != "triton" and request.param == "multi":
        pytest.skip("the launch-per-iteration sampling path is Triton's")
    from wmkernels.ops.sampling import triton as sampling_triton
    monkeypatch.setattr(sampling_triton, "FUSED_MIN_PROBLEMS", 1 if request.param == "fused" else 10**9)
    return request.param


@pytest.mark.parametrize("case", SAMPLING_CASES, ids=sampling_id)
def test_cem_plan_matches_naive(case, backend, sampling_path, device, poison):
    D, A, H, T, S, P, act, skip, kind, elites, mom, iters = case
    model, z0, _, goal, obj = _problem(D, A, H, T, 1, P, act, skip, kind, device)
    mean = torch.zeros(P, T, A, dtype=torch.float64, device=device).clamp(*_bounds(obj, T, D, A, device))
    std = torch.full_like(mean, 0.8)

    def run(m, z0, goal, mean, std, backend):
        return wmk.ops.cem_plan(m, z0, goal, obj, mean, std, S, elites, iters, mom, seed=11, backend=backend)
    _compare_plans(run, backend, model, (z0, goal, mean, std), _as32((z0, goal, mean, std)))


@pytest.mark.parametrize("case", SAMPLING_CASES, ids=sampling_id)
def test_mppi_plan_matches_naive(case, backend, sampling_path, device, poison):
    D, A, H, T, S, P, act, skip, kind, _, mom, iters = case
    model, z0, _, goal, obj = _problem(D, A, H, T, 1, P, act, skip, kind, device)
    mean = 0.1 * torch.ones(P, T, A, dtype=torch.float64, device=device)
    std = torch.full_like(mean, 0.5)

    def run(m, z0, goal, mean, std, backend):
        return wmk.ops.mppi_plan(m, z0, goal, obj, mean, std, S, iters, 2.0, mom, seed=3, backend=backend)
    _compare_plans(run, backend, model, (z0, goal, mean, std), _as32((z0, goal, mean, std)))


def test_cem_ties_pick_lowest_index(backend, device, poison, sampling_path):
    """std 0: every sample equals the mean, costs tie; the refit must still be the mean, std 0."""
    model, z0, _, goal, obj = _problem(4, 2, (16,), 2, 1, 1, "relu", "identity", "all", device)
    mean = 0.3 * torch.ones(1, 2, 2, dtype=torch.float64, device=device)
    out = wmk.ops.cem_plan(model, z0, goal, obj, mean, torch.zeros_like(mean), 20, 3, 2, backend=backend)
    ref = wmk.ops.cem_plan(model, z0, goal, obj, mean, torch.zeros_like(mean), 20, 3, 2, backend="torch")
    for o, r in zip(out, ref):
        assert rel_err(o, r) < TOL


def _bounds(obj, T, D, A, device):
    r = obj.resolve(T, D, A, torch.float64, device)
    return r.lo, r.hi


def _adam_inputs(dtype, device):
    """(actions, grad, m, v, noise, lo, hi) of shape [3, 5, 4, 3]; bounds mix finite and infinite."""
    gen = torch.Generator().manual_seed(0)
    shape = (3, 5, 4, 3)
    a, g, m, noise = (torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(4))
    v = torch.rand(shape, generator=gen, dtype=torch.float64)
    lo = torch.tensor([-1.0, -0.5, float("-inf")], dtype=torch.float64)
    hi = torch.tensor([1.0, 0.3, float("inf")], dtype=torch.float64)
    return tuple(t.to(device=device, dtype=dtype) for t in (a, g, m, v, 0.01 * noise, lo, hi))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_adam_step_matches_naive(backend, dtype, device):
    a, g, m, v, noise, lo, hi = _adam_inputs(dtype, device)
    outs = []
    for b in (backend, "torch"):
        x, mm, vv = a.clone(), m.clone(), v.clone()
        assert wmk.ops.adam_step(x, g, mm, vv, 3, 0.1, 0.9, 0.999, 1e-8, lo, hi, noise, backend=b) is x
        outs.append((x, mm, vv))
    for o, r in zip(*outs):
        assert rel_err(o, r) < TOL


@requires_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_triton_sgd_step_matches_naive(dtype, device):
    a, g, _, _, noise, lo, hi = _adam_inputs(dtype, device)
    from wmkernels.ops.adam import naive, triton as adam_triton
    x, ref = a.clone(), a.clone()
    assert adam_triton.sgd_step(x, g, 0.1, lo, hi, noise) is x
    naive.sgd_step(ref, g, 0.1, lo, hi, noise)
    assert rel_err(x, ref) < TOL


def test_adam_step_through_dispatcher(backend, device):
    a = torch.zeros(2, 3, 2, device=device)
    g = torch.ones_like(a)
    m, v = torch.zeros_like(a), torch.zeros_like(a)
    out = wmk.ops.adam_step(a, g, m, v, 1, 0.5, lo=-0.2, hi=0.2, backend=backend)
    assert out is a
    assert torch.allclose(a, torch.full_like(a, -0.2))
