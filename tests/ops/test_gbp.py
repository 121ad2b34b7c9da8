"""gbp_plan and the gradient planner on every backend: the same seed gives the plan of the float64
reference (the torch backend on model.to_module(), gradients by autograd)."""
import pytest
import torch

import wmkernels as wmk
from cases import (F32, F64, GBP_CASES, as32, assert_plan_close, bounds, gbp_problem, plan_tolerance, reference_module,
                   reference_rollout, tol)
from helpers import DEVICE, least_squares_plan, random_model, rel_err

LR = 0.1


def run_gbp(case_id):
    c = GBP_CASES[case_id]

    def run(model, z0, goal, obj, init, backend):
        return wmk.ops.gbp_plan(model, z0, goal, obj, init, c.iters, LR, c.optimizer, noise=c.noise, seed=7,
                                backend=backend)
    return run


@pytest.mark.parametrize("case", list(GBP_CASES))
def test_gbp_plan(case, backend, device):
    model, z0, goal, obj, init = gbp_problem(case, device)
    actions, cost, history = assert_plan_close(run_gbp(case), backend, model, (z0, goal, obj, init))
    P, N, T, A = init.shape
    assert actions.shape == (P, T, A) and cost.shape == (P,) and history.shape == (P, GBP_CASES[case].iters)


def test_gbp_plan_returns_its_best_candidate(backend, device):
    """The returned cost is the cost of the returned actions, which lie within the bounds."""
    case = "P1-N17-T3-D6-A4-w12-gelu-zero-weights+bounds-sgd-noise0.01-iters3"
    model, z0, goal, obj, init = gbp_problem(case, device)
    actions, cost, _ = run_gbp(case)(model, z0, goal, obj, init, backend=backend)
    recomputed, _ = reference_rollout(model, z0, actions[:, None], goal, obj)
    assert rel_err(cost, recomputed[:, 0]) < tol(backend, F64)
    c = GBP_CASES[case]
    lo, hi = bounds(obj, c.T, c.D, c.A, device)
    assert bool((actions >= lo - 1e-6).all() and (actions <= hi + 1e-6).all())
    assert bool(((actions - lo).abs() < 1e-6).any() or ((actions - hi).abs() < 1e-6).any())  # a bound binds


def test_gbp_plan_picks_the_candidate_seeded_at_the_optimum(backend, device):
    """Five candidates per problem, one (in the middle, at another index per problem) started at the
    least-squares optimum of a linear model, the others 0.5 away: after two tiny SGD steps the
    plan returns that candidate and the optimal cost."""
    P, N, T, D, A = 2, 5, 3, 4, 2
    gen = torch.Generator().manual_seed(21)
    S = torch.eye(D, dtype=F64) + 0.2 * torch.randn(D, D, generator=gen, dtype=F64)
    B = torch.randn(A, D, generator=gen, dtype=F64)
    z0, goal = (torch.randn(P, D, generator=gen, dtype=F64) for _ in range(2))
    obj = wmk.Objective("all", base=0.7, action_penalty=0.1, lo=float("-inf"), hi=float("inf"))
    w = obj.resolve(T, D, A, F64).step_weights
    optimum = [least_squares_plan(S, B, z0[p], goal[p], w, torch.ones(D, dtype=F64), 0.1) for p in range(P)]
    best_actions = torch.stack([a for a, _ in optimum])
    best_cost = torch.tensor([c for _, c in optimum], dtype=F64)
    init = best_actions[:, None] + 0.5 * torch.randn(P, N, T, A, generator=gen, dtype=F64)
    seeded = [2, 3]
    for p, n in enumerate(seeded):
        init[p, n] = best_actions[p]
    model = wmk.linear_world_model(S, B).to(device=device)
    actions, cost, _ = wmk.ops.gbp_plan(model, z0.to(device), goal.to(device), obj, init.to(device), 2, 1e-4,
                                        "sgd", backend=backend)
    limit = tol(backend, F64)
    assert rel_err(actions, best_actions) < 10 * limit, rel_err(actions, best_actions)
    assert rel_err(cost, best_cost) < 10 * limit
    others = wmk.ops.rollout(model, z0.to(device), init.to(device), goal.to(device), obj, backend="torch").cpu()
    for p, n in enumerate(seeded):
        assert float(others[p].sort().values[1]) > 1.5 * float(best_cost[p])   # a clear winner


def test_float32_paper_gbp_close_to_float64(backend, device):
    """A float32 GBP plan on the paper-gbp shapes (D 16, A 10, two 256-wide ReLU layers, T 5; Adam
    with noise) follows the float64 plan of the same float32 weights: within twice the torch
    backend's own float32 error (and 1e-5)."""
    P, T, D, A = 1, 5, 16, 10
    model = random_model(D, A, (256, 256), "relu", "identity", dtype=F32, device=device, seed=31)
    gen = torch.Generator().manual_seed(32)
    z0, goal = (torch.randn(P, D, generator=gen).to(device) for _ in range(2))
    init = (0.5 * torch.randn(P, 1, T, A, generator=gen)).clamp(-1, 1).to(device)
    obj = wmk.Objective("all", base=0.8, action_penalty=0.01)

    def run(m, *args, backend):
        return wmk.ops.gbp_plan(m, *args, obj, init if args[0].dtype == F32 else init.double(), 3, LR, "adam",
                                noise=0.003, seed=3, backend=backend)
    got = run(model, z0, goal, backend=backend)
    ref = run(reference_module(model), z0.double(), goal.double(), backend="torch")
    ref32 = run(model, *as32((z0, goal)), backend="torch")
    for name, g, r, r32 in zip(("actions", "cost", "history"), got, ref, ref32):
        assert g.dtype == F32 and g.shape == r.shape, name
        limit = plan_tolerance(backend, F32, rel_err(r32, r))
        assert rel_err(g, r) < limit, (name, rel_err(g, r), limit)
    assert rel_err(ref[0], init.double()[:, 0]) > 1e-3         # the plan moved


def _planner_problem(device):
    P, D, A = 2, 5, 2
    model = random_model(D, A, (16,), "relu", "identity", device=device, seed=3)
    gen = torch.Generator().manual_seed(4)
    z0, goal = (torch.randn(P, D, generator=gen, dtype=F64).to(device) for _ in range(2))
    return model, z0, goal, wmk.Objective(mode="all", base=0.5, action_penalty=0.01)


def _gradient_planner(model, obj, backend, **kw):
    return wmk.GradientPlanner(model, horizon=3, objective=obj, iters=2, lr=0.2, samples=2, noise=0.003, seed=5,
                               backend=backend, **kw)


def test_gradient_planner(backend, device):
    model, z0, goal, obj = _planner_problem(device)
    A = model.action_dim
    res = _gradient_planner(model, obj, backend).plan(z0, goal)
    ref = _gradient_planner(reference_module(model), obj, "torch", action_dim=A).plan(z0, goal)
    ref32 = _gradient_planner(model.to(dtype=F32), obj, "torch").plan(z0.float(), goal.float())
    assert res.info["backend"] == backend
    for name in ("actions", "cost", "history"):
        got, want, want32 = (r.info["history"] if name == "history" else getattr(r, name) for r in (res, ref, ref32))
        assert got.shape == want.shape and got.dtype == F64, name
        assert rel_err(got, want) < plan_tolerance(backend, F64, rel_err(want32, want)), name
    single = _gradient_planner(model, obj, backend).plan(z0[0], goal[0])
    assert single.actions.shape == (3, A) and single.cost.shape == ()
    assert rel_err(single.actions, res.actions[0]) < plan_tolerance(backend, F64, rel_err(ref32.actions, ref.actions))


def test_mpc(backend, device):
    """Two MPC steps (warm start, fresh seed per call) on the backend follow the reference's."""
    model, z0, goal, obj = _planner_problem(device)
    mpcs = {"got": wmk.MPC(_gradient_planner(model, obj, backend), execute=1),
            "ref": wmk.MPC(_gradient_planner(reference_module(model), obj, "torch", action_dim=2), execute=1),
            "ref32": wmk.MPC(_gradient_planner(model.to(dtype=F32), obj, "torch"), execute=1)}
    for _ in range(2):
        acts = {k: mpc.act(z0.float() if k == "ref32" else z0, goal.float() if k == "ref32" else goal)
                for k, mpc in mpcs.items()}
        assert acts["got"].shape == (2, 1, 2) and acts["got"].dtype == F64
        limit = plan_tolerance(backend, F64, rel_err(acts["ref32"], acts["ref"]))
        assert rel_err(acts["got"], acts["ref"]) < limit
        z0 = model.step(z0, acts["ref"][:, 0])


def test_auto_backend_prefers_the_fastest_available():
    """backend="auto": cpp on CPU tensors, triton then cuda on CUDA tensors, else torch; the plan
    is that backend's."""
    from wmkernels import _backend
    order = {"cpu": ["cpp"], "cuda": ["triton", "cuda"]}.get(torch.device(DEVICE).type, [])
    expected = next((b for b in order if _backend.unavailable_reason(b, DEVICE) is None), "torch")
    model = random_model(4, 2, (8,), "relu", "identity", dtype=F32, device=DEVICE)
    gen = torch.Generator().manual_seed(2)
    z0, goal = (torch.randn(2, 4, generator=gen).to(DEVICE) for _ in range(2))
    auto = wmk.GradientPlanner(model, horizon=3, iters=3, backend="auto").plan(z0, goal)
    chosen = wmk.GradientPlanner(model, horizon=3, iters=3, backend=expected).plan(z0, goal)
    assert auto.info["backend"] == expected
    assert torch.equal(auto.actions, chosen.actions) and torch.equal(auto.cost, chosen.cost)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_gbp_plan_projects_an_init_outside_the_bounds(optimizer, backend, device):
    """Candidates started 4 widths of the box outside it come back inside [lo, hi] exactly, as the
    reference's."""
    case = "P2-N1-T4-D7-A3-w19-tanh-identity-all+penalty+bounds-adam-noise0.003-iters3"
    model, z0, goal, obj, init = gbp_problem(case, device)
    c = GBP_CASES[case]
    lo, hi = bounds(obj, c.T, c.D, c.A, device)
    outside = torch.where(init > 0, hi + 4 * (hi - lo), lo - 4 * (hi - lo))

    def run(model, z0, goal, obj, init, backend):
        return wmk.ops.gbp_plan(model, z0, goal, obj, init, 2, LR, optimizer, noise=0.01, seed=7, backend=backend)
    actions, _, _ = assert_plan_close(run, backend, model, (z0, goal, obj, outside))
    assert bool(((actions >= lo) & (actions <= hi)).all())
