"""The op tests' case tables, tolerances and float64 references (tests/ops/test_*.py).

Every op test runs once per backend (the `backend` fixture, tests/ops/conftest.py) and compares
with a float64 reference: the torch backend run on the model as a plain torch.nn.Module
(`model.to_module()`), whose gradients come from autograd. That path shares no code with the
MLPWorldModel paths under test (hand-written BPTT, fused kernels), so the torch backend is
checked too. Plans use the same seed as the reference, so the random draws agree to the bit
(docs/random.md).

Tolerances are relative-error norms (helpers.rel_err), keyed by (backend, dtype of the inputs).
Backends that compute float64 inputs in float32 (triton) get float32 tolerances for them; whole
plans on such backends may be off by twice the error of the torch backend's own float32 plan
(Adam's normalisation and softmax weights amplify rounding; plan_tolerance).
"""
import zlib
from collections import namedtuple

import pytest
import torch

import wmkernels as wmk
from wmkernels import _backend
from wmkernels.activations import NAMES as ACTIVATIONS
from helpers import DEVICE, random_model, random_problem, rel_err

F64, F32, BF16, F16 = torch.float64, torch.float32, torch.bfloat16, torch.float16


def require(backend):
    """Skip the calling test, with the reason, unless `backend` runs on helpers.DEVICE."""
    reason = _backend.unavailable_reason(backend, DEVICE)
    if reason is not None:
        pytest.skip(f"{backend} backend: {reason}")
    return backend


# ---- tolerances -------------------------------------------------------------------------------
TOL = {
    ("torch", F64): 1e-10, ("cpp", F64): 1e-10,
    ("triton", F64): 1e-5, ("cuda", F64): 1e-5,  # computed in float32 (docs/backends.md)
    ("torch", F32): 1e-5, ("triton", F32): 1e-5, ("cpp", F32): 1e-5, ("cuda", F32): 1e-5,
    ("torch", BF16): 5e-2, ("triton", BF16): 5e-2, ("cpp", BF16): 5e-2, ("cuda", BF16): 5e-2,
    ("torch", F16): 1e-2, ("triton", F16): 1e-2, ("cpp", F16): 1e-2, ("cuda", F16): 1e-2,
}


def tol(backend, dtype):
    return TOL[(backend, dtype)]


def exact_float64(backend):
    """Whether `backend` computes float64 inputs in float64 (so finite differences can check it)."""
    return tol(backend, F64) < 1e-8


def plan_tolerance(backend, dtype, err32):
    """A whole plan: the table's tolerance where the backend computes in float64 (its draws are the
    reference's, bit for bit); else the larger of the table's and twice err32, the error of the
    torch backend's float32 plan against the reference."""
    t = tol(backend, dtype)
    if dtype == F64 and exact_float64(backend):
        return t
    return max(t, 2.0 * err32)


# ---- objectives -------------------------------------------------------------------------------
OBJECTIVES = ("last", "all", "weights+q", "all+q+penalty", "last+penalty+bounds", "weights+penalty")


def objective(kind, T, D, A, seed=5):
    """An Objective by name: last | all | weights | q | penalty | bounds, or a '+' mix."""
    gen = torch.Generator().manual_seed(seed)
    kw = dict(lo=float("-inf"), hi=float("inf"))
    for part in kind.split("+"):
        if part == "last":
            kw["mode"] = "last"
        elif part == "all":
            kw.update(mode="all", base=0.6)
        elif part == "weights":
            kw["weights"] = (torch.rand(T, generator=gen, dtype=torch.float64) + 0.1).tolist()
        elif part == "q":
            kw["q"] = torch.rand(D, generator=gen, dtype=torch.float64).tolist()
        elif part == "penalty":
            kw["action_penalty"] = 0.05
        elif part == "bounds":
            lo = -0.2 - torch.rand(A, generator=gen, dtype=torch.float64)
            kw.update(lo=lo.tolist(), hi=(lo + 0.9).tolist())
        else:
            raise ValueError(part)
    return wmk.Objective(**kw)


def seed_of(case_id):
    """A fixed seed per case (zlib.crc32: stable across processes, unlike hash())."""
    return zlib.crc32(case_id.encode()) % 10_000


def _table(cls, rows, name):
    """{id: case} with ids spelled from the fields."""
    return {name(c): c for c in (cls(*r) for r in rows)}


def _widths(w):
    return "x".join(map(str, w))


# ---- rollouts (rollout, rollout_grad, return_states) ------------------------------------------
# Odd sizes, 1-4 hidden layers, every (activation, skip) pair, widths past 64- and 128-wide chunks
# and 256, a state wider than the widths, 40 candidates of one problem (several tiles), sizes of 1.
RolloutCase = namedtuple("RolloutCase", "P N T D A widths activation skip objective")
ROLLOUT_CASES = _table(RolloutCase, [
    (1, 1, 1, 3, 1, (5,), "elu", "identity", "last"),
    (3, 7, 3, 5, 3, (17, 9), "silu", "matrix", "all+q+penalty+bounds"),
    (1, 13, 3, 11, 2, (33, 20, 7), "gelu", "zero", "weights+q"),
    (1, 3, 2, 16, 10, (40, 31, 23, 19), "tanh", "identity", "all+penalty"),
    (1, 2, 1, 16, 10, (256, 256), "relu", "identity", "last"),
    (2, 3, 3, 16, 10, (27, 19), "elu", "matrix", "last+penalty"),
    (1, 40, 2, 4, 2, (9,), "silu", "identity", "all+penalty"),
    (1, 1, 1, 1, 1, (1,), "tanh", "zero", "last"),
    (1, 2, 2, 70, 7, (24,), "gelu", "matrix", "weights+penalty"),
    (1, 2, 2, 6, 4, (130,), "elu", "zero", "all+q"),
    (1, 4, 1, 33, 5, (70, 20, 9, 13), "relu", "matrix", "all+q"),
    (1, 5, 3, 5, 2, (11,), "relu", "zero", "last+q"),
    (2, 9, 2, 5, 1, (14,), "silu", "zero", "all"),
    (2, 1, 2, 16, 10, (45, 33), "gelu", "identity", "weights+q"),
    (2, 5, 3, 8, 3, (12, 7, 5), "tanh", "matrix", "all+bounds"),
    (1, 11, 2, 16, 10, (70, 45), "silu", "matrix", "all+q+penalty"),
], lambda c: f"P{c.P}-N{c.N}-T{c.T}-D{c.D}-A{c.A}-w{_widths(c.widths)}-{c.activation}-{c.skip}-{c.objective}")

# The D=16, A=10 rows, one per activation (vector bodies and remainders of the CPU kernels), run
# again with a float32 model and on every CPU instruction set; the objective checks vary one row;
# SMALL_CASE is a cheap row with P, N > 1.
FLOAT32_CASES = [i for i, c in ROLLOUT_CASES.items() if (c.D, c.A) == (16, 10)]
assert sorted(ROLLOUT_CASES[i].activation for i in FLOAT32_CASES) == sorted(ACTIVATIONS)
assert {(c.activation, c.skip) for c in ROLLOUT_CASES.values()} == {
    (a, s) for a in ACTIVATIONS for s in ("identity", "matrix", "zero")}
OBJECTIVE_CASE = "P1-N5-T3-D5-A2-w11-relu-zero-last+q"
SMALL_CASE = "P2-N9-T2-D5-A1-w14-silu-zero-all"
assert OBJECTIVE_CASE in ROLLOUT_CASES and SMALL_CASE in ROLLOUT_CASES


def rollout_problem(case_id, dtype=F64, device="cpu", objective_kind=None):
    """(model, z0, actions, goal, Objective) of a ROLLOUT_CASES row, from its fixed seed."""
    c = ROLLOUT_CASES[case_id]
    seed = seed_of(case_id)
    model = random_model(c.D, c.A, c.widths, c.activation, c.skip, dtype=dtype, device=device, seed=seed)
    z0, actions, goal = random_problem(c.P, c.N, c.T, c.D, c.A, dtype, device, seed + 1)
    return model, z0, actions, goal, objective(objective_kind or c.objective, c.T, c.D, c.A, seed + 2)


def reference_module(model):
    """The model in float64 as a plain torch.nn.Module (the torch backend runs it through autograd)."""
    return model.to(dtype=F64).to_module().requires_grad_(False)


def reference_rollout(model, z0, actions, goal, obj):
    """(cost [P, N], states [P, N, T+1, D]) in float64 through the torch backend's generic path."""
    with torch.no_grad():
        return wmk.ops.rollout(reference_module(model), z0.double(), actions.double(), goal.double(), obj,
                               return_states=True, backend="torch")


def reference_rollout_grad(model, z0, actions, goal, obj):
    """(cost [P, N], dC/dactions) in float64 by autograd through the torch backend's rollout."""
    leaf = actions.detach().double().requires_grad_(True)
    cost = wmk.ops.rollout(reference_module(model), z0.double(), leaf, goal.double(), obj, backend="torch")
    (grad,) = torch.autograd.grad(cost.sum(), leaf)
    return cost.detach(), grad


# ---- gbp_plan ---------------------------------------------------------------------------------
GbpCase = namedtuple("GbpCase", "P N T D A widths activation skip objective optimizer noise iters")
GBP_CASES = _table(GbpCase, [
    (2, 1, 4, 7, 3, (19,), "tanh", "identity", "all+penalty+bounds", "adam", 0.003, 3),
    (2, 3, 3, 5, 2, (16, 9), "silu", "matrix", "last+q", "adam", 0.0, 3),
    (1, 17, 3, 6, 4, (12,), "gelu", "zero", "weights+bounds", "sgd", 0.01, 3),
    (1, 2, 2, 4, 1, (20,), "elu", "identity", "all", "sgd", 0.0, 3),
    (1, 2, 2, 7, 3, (70, 130), "relu", "identity", "all+bounds", "adam", 0.003, 3),  # several 64/128 chunks
    (1, 5, 2, 6, 3, (24, 17), "silu", "matrix", "all+bounds", "adam", 0.01, 10),
    (2, 3, 2, 6, 3, (9, 14, 11, 6), "elu", "matrix", "all+penalty", "sgd", 0.0, 4),
    (2, 2, 2, 6, 3, (21, 13, 8), "gelu", "identity", "last", "adam", 0.003, 4),
    (1, 1, 1, 3, 2, (5,), "tanh", "zero", "last+penalty+bounds", "adam", 0.003, 8),
], lambda c: (f"P{c.P}-N{c.N}-T{c.T}-D{c.D}-A{c.A}-w{_widths(c.widths)}-{c.activation}-{c.skip}-"
              f"{c.objective}-{c.optimizer}-noise{c.noise}-iters{c.iters}"))


def gbp_problem(case_id, device="cpu"):
    """(model, z0, goal, Objective, init [P, N, T, A] inside the bounds), float64."""
    c = GBP_CASES[case_id]
    seed = seed_of(case_id)
    model = random_model(c.D, c.A, c.widths, c.activation, c.skip, device=device, seed=seed)
    z0, init, goal = random_problem(c.P, c.N, c.T, c.D, c.A, F64, device, seed + 1)
    obj = objective(c.objective, c.T, c.D, c.A, seed + 2)
    lo, hi = bounds(obj, c.T, c.D, c.A, device)
    return model, z0, goal, obj, torch.maximum(torch.minimum(init, hi), lo)


def bounds(obj, T, D, A, device="cpu"):
    r = obj.resolve(T, D, A, F64, device)
    return r.lo, r.hi


# ---- cem_plan, mppi_plan ----------------------------------------------------------------------
# Each row runs CEM (elites) and MPPI (temperature); `threads` > P spreads one problem's samples
# over several CPU threads.
SamplingCase = namedtuple("SamplingCase",
                          "P T D A widths activation skip objective samples elites temperature momentum iters threads")
SAMPLING_CASES = _table(SamplingCase, [
    (2, 3, 7, 3, (19,), "silu", "identity", "all+penalty+bounds", 37, 5, 2.0, 0.1, 2, 1),
    (1, 3, 5, 2, (16, 8), "relu", "matrix", "last+q", 16, 4, 0.05, 0.0, 2, 1),
    (1, 2, 4, 2, (10,), "tanh", "zero", "weights+bounds", 70, 9, 20.0, 0.5, 2, 2),
    (2, 2, 5, 2, (19, 11), "elu", "zero", "all+q+penalty+bounds", 21, 6, 1.0, 0.3, 2, 1),
    (1, 2, 5, 3, (16, 10), "gelu", "matrix", "last+bounds", 19, 5, 1.0, 0.2, 2, 1),
], lambda c: (f"P{c.P}-T{c.T}-D{c.D}-A{c.A}-w{_widths(c.widths)}-{c.activation}-{c.skip}-{c.objective}-"
              f"S{c.samples}-E{c.elites}-temp{c.temperature}-mom{c.momentum}-iters{c.iters}-threads{c.threads}"))


def sampling_problem(case_id, device="cpu"):
    """(model, z0, goal, Objective, mean [P, T, A] inside the bounds, std [P, T, A]), float64."""
    c = SAMPLING_CASES[case_id]
    seed = seed_of(case_id)
    model = random_model(c.D, c.A, c.widths, c.activation, c.skip, device=device, seed=seed)
    z0, mean, goal = random_problem(c.P, 1, c.T, c.D, c.A, F64, device, seed + 1)
    obj = objective(c.objective, c.T, c.D, c.A, seed + 2)
    lo, hi = bounds(obj, c.T, c.D, c.A, device)
    mean = torch.maximum(torch.minimum(0.3 * mean[:, 0], hi), lo)
    return model, z0, goal, obj, mean, torch.full_like(mean, 0.8)


# ---- comparisons ------------------------------------------------------------------------------
def as32(args):
    return [a.float() if isinstance(a, torch.Tensor) else a for a in args]


def assert_plan_close(run, backend, model, args):
    """run(model, *args, backend=...) -> a tuple of tensors (a plan). The backend on the float64
    model and inputs against the float64 reference (the torch backend on model.to_module()), within
    plan_tolerance. Returns the backend's plan."""
    out = run(model, *args, backend=backend)
    ref = run(reference_module(model), *args, backend="torch")
    ref32 = run(model.to(dtype=F32), *as32(args), backend="torch")
    assert len(out) == len(ref)
    for i, (o, r, r32) in enumerate(zip(out, ref, ref32)):
        assert o.shape == r.shape and o.dtype == r.dtype == F64, i
        limit = plan_tolerance(backend, F64, rel_err(r32, r))
        assert rel_err(o, r) < limit, (i, rel_err(o, r), limit)
    return out
