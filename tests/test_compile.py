"""The public API under torch.compile(fullgraph=True) and in CUDA graphs.

On every backend of the test device: each public op and each planner's plan compiles to one
graph and gives the eager results (bit for bit on the fused backends, whose compiled graph
calls the same kernel); compiled code carries no value check; MPC keeps its warm start in one
buffer. On a GPU (WMK_TEST_DEVICE=cuda, bench/gpu_suite.sh): a plan with value checks off and
timed=False makes no host synchronisation, and an MPC step captured in a CUDA graph replays
the eager steps.
"""
import pytest
import torch

import wmkernels as wmk
from helpers import DEVICE, random_model, random_problem, rel_err
from wmkernels import _backend

D, A, T, N, P = 5, 2, 3, 4, 2
F32 = torch.float32
ON_GPU = pytest.mark.skipif(not (DEVICE == "cuda" and torch.cuda.is_available()),
                            reason="needs a CUDA device (WMK_TEST_DEVICE=cuda, bench/gpu_suite.sh)")


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test compiles its own functions: no cache or recompile count carries over."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture(params=_backend.BACKENDS)
def backend(request):
    """Every backend in turn; one that cannot run on the test device skips with its reason."""
    reason = _backend.unavailable_reason(request.param, DEVICE)
    if reason is not None:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def problem():
    """(model, z0 [P, D], actions [P, N, T, A], goal [P, D], objective) in float32 on the test device."""
    model = random_model(D, A, (12,), "silu", "matrix", dtype=F32, device=DEVICE, seed=3)
    z0, actions, goal = random_problem(P, N, T, D, A, dtype=F32, device=DEVICE, seed=4)
    obj = wmk.Objective("all", base=0.7, q=[1.0, 0.5, 2.0, 1.0, 1.5], action_penalty=0.05,
                        lo=[-1.0, -0.8], hi=0.9)
    return model, z0, actions, goal, obj


def _public_ops(model, z0, goal, obj, backend):
    """op name -> f(actions [P, N, T, A]) calling that public op; outputs as a tuple."""
    gen = torch.Generator().manual_seed(5)
    std = (0.3 + torch.rand(P, T, A, generator=gen)).to(DEVICE)
    noise = (0.01 * torch.randn(P, N, T, A, generator=gen)).to(DEVICE)
    hi = torch.tensor([0.9, 0.7], device=DEVICE)

    def adam_step(a):
        x, m, v = a.clone(), 0.1 * a, a * a
        wmk.ops.adam_step(x, 0.5 - a, m, v, 3, 0.1, lo=-1.0, hi=hi, noise=noise, backend=backend)
        return x, m, v

    return {
        "rollout": lambda a: wmk.ops.rollout(model, z0, a, goal, obj, return_states=True, backend=backend),
        "rollout_grad": lambda a: wmk.ops.rollout_grad(model, z0, a, goal, obj, backend=backend),
        "rollout_cost": lambda a: (wmk.ops.rollout_cost(model, z0, a, goal, obj, backend=backend),),
        "adam_step": adam_step,
        "gbp_plan": lambda a: wmk.ops.gbp_plan(model, z0, goal, obj, a, 3, 0.1, noise=0.01, seed=11,
                                               backend=backend),
        "cem_plan": lambda a: wmk.ops.cem_plan(model, z0, goal, obj, a[:, 0], std, 7, 3, 2, momentum=0.2,
                                               seed=12, backend=backend),
        "mppi_plan": lambda a: wmk.ops.mppi_plan(model, z0, goal, obj, a[:, 0], std, 7, 2, temperature=0.5,
                                                 seed=13, backend=backend),
    }


PLANNERS = {
    "gbp": lambda model, obj, backend, **kw: wmk.GradientPlanner(model, T, obj, iters=3, samples=2, noise=0.01,
                                                                 backend=backend, **kw),
    "cem": lambda model, obj, backend, **kw: wmk.CEMPlanner(model, T, obj, samples=7, elites=3, iters=2,
                                                            init_std=0.5, backend=backend, **kw),
    "mppi": lambda model, obj, backend, **kw: wmk.MPPIPlanner(model, T, obj, samples=7, iters=2, temperature=0.5,
                                                              init_std=0.5, backend=backend, **kw),
}


def _compile(fn, backend):
    """torch.compile(fn, fullgraph=True): AOT-traced for a fused backend (its op stays one opaque
    node); for the torch backend the graph Dynamo traced runs as it is (AOT tracing of the
    unrolled plan loops is slow and tests PyTorch, not wmkernels)."""
    return torch.compile(fn, fullgraph=True, backend="eager" if backend == "torch" else "aot_eager")


def _tol(backend):
    """Compiled against eager: a fused backend's graph calls the same kernel, so bit for bit
    (0); Dynamo rewrites some aten ops of the torch backend (addcmul_ into an fma): float32 rounding."""
    return 1e-6 if backend == "torch" else 0.0


def _same(out, ref, tol=0.0):
    """Equal outputs: bit for bit when tol is 0, else relative error below tol."""
    assert len(out) == len(ref)
    for o, r in zip(out, ref):
        assert o.shape == r.shape and o.dtype == r.dtype
        assert torch.equal(o, r) if tol == 0.0 else rel_err(o, r) < tol


@pytest.mark.parametrize("op", ["rollout", "rollout_grad", "rollout_cost", "adam_step", "gbp_plan",
                                "cem_plan", "mppi_plan"])
def test_public_op_compiles_to_one_graph_equal_to_eager(problem, backend, op):
    model, z0, actions, goal, obj = problem
    fn = _public_ops(model, z0, goal, obj, backend)[op]
    compiled = _compile(fn, backend)
    _same(compiled(actions), fn(actions), _tol(backend))


def test_rollout_cost_backward_compiles_to_one_graph(problem, backend):
    """The differentiable cost's gradient, compiled, against eager and float64 autograd of the
    torch backend."""
    model, z0, actions, goal, obj = problem
    weights = torch.rand(P, N, generator=torch.Generator().manual_seed(6)).to(DEVICE)

    def loss(a):
        return (wmk.ops.rollout_cost(model, z0, a, goal, obj, backend=backend) * weights).sum()

    compiled = _compile(loss, backend)
    grads = []
    for f in (compiled, loss):
        a = actions.clone().requires_grad_(True)
        f(a).backward()
        grads.append(a.grad)
    _same(grads[:1], grads[1:], _tol(backend))
    a64 = actions.double().requires_grad_(True)
    cost64 = wmk.ops.rollout(model.to(dtype=torch.float64), z0.double(), a64, goal.double(), obj, backend="torch")
    (cost64 * weights.double()).sum().backward()
    assert rel_err(grads[0], a64.grad) < 1e-4


def test_inductor_compiles_a_fused_rollout_gradient_and_adam_step(problem):
    """The default compiler (inductor) over rollout_grad and the in-place adam_step of the fastest
    fused backend here, as one graph."""
    backend = _backend.resolve("auto", DEVICE)
    if backend == "torch":
        pytest.skip("no fused backend on this device")
    model, z0, actions, goal, obj = problem

    def step(a):
        cost, grad = wmk.ops.rollout_grad(model, z0, a, goal, obj, backend=backend)
        x, m, v = a.clone(), torch.zeros_like(a), torch.zeros_like(a)
        wmk.ops.adam_step(x, grad, m, v, 1, 0.05, lo=-1.0, hi=0.9, backend=backend)
        return cost, x, m, v

    _same(torch.compile(step, fullgraph=True)(actions), step(actions))


@pytest.mark.parametrize("kind", PLANNERS)
def test_plan_compiles_to_one_graph_equal_to_eager(problem, backend, kind):
    """plan() from a warm start, compiled: the same plan, info without a time (nothing waits)."""
    model, z0, actions, goal, obj = problem
    planner = PLANNERS[kind](model, obj, backend)
    warm = actions[:, 0].clamp(-0.8, 0.7)
    compiled = _compile(lambda z, g, w: planner.plan(z, g, init=w, seed=21), backend)
    out, ref = compiled(z0, goal, warm), planner.plan(z0, goal, init=warm, seed=21)
    _same((out.actions, out.cost, out.info["history"]), (ref.actions, ref.cost, ref.info["history"]),
          _tol(backend))
    assert out.info["backend"] == ref.info["backend"] == backend
    assert out.info["time"] is None and ref.info["time"] > 0.0


def test_plan_timing_is_optional_and_the_objective_is_resolved_once(problem):
    model, z0, _, goal, obj = problem
    planner = PLANNERS["cem"](model, obj, "torch", timed=False)
    first = planner.plan(z0, goal)
    assert first.info["time"] is None
    resolved = planner.resolved_objective(z0)
    assert planner.resolved_objective(z0) is resolved
    planner.plan(z0, goal)
    assert planner.resolved_objective(z0) is resolved
    planner.objective = wmk.Objective("last", lo=-0.5, hi=0.5)
    assert planner.resolved_objective(z0).hi[0] == 0.5
    planner.timed = True
    assert planner.plan(z0, goal).info["time"] > 0.0
    with pytest.raises(TypeError, match="timed must be a bool, got int"):
        PLANNERS["gbp"](model, obj, "torch", timed=1)


def test_compiled_code_carries_no_value_check_but_keeps_structure_checks(problem):
    model, z0, actions, goal, obj = problem
    bad = actions.clone()
    bad[0, 1, 2, 0] = float("nan")

    def cost(a, g):
        return wmk.ops.rollout(model, z0, a, g, obj, backend="torch")

    with pytest.raises(ValueError, match="actions contains NaN or Inf"):
        cost(bad, goal)
    compiled = torch.compile(cost, fullgraph=True, backend="aot_eager")
    out = compiled(bad, goal)
    assert torch.isnan(out[0, 1]) and torch.isfinite(out[1]).all()
    with pytest.raises(Exception, match=r"goal must have shape \[2, 5\], got \[1, 5\]"):
        compiled(actions, goal[:1])


def test_an_unavailable_backend_is_named_under_compile(problem):
    model, z0, actions, goal, obj = problem
    missing = next((b for b in _backend.BACKENDS if _backend.unavailable_reason(b, DEVICE) is not None), None)
    if missing is None:
        pytest.skip("every backend runs here")
    compiled = torch.compile(lambda a: wmk.ops.rollout(model, z0, a, goal, obj, backend=missing),
                             fullgraph=True, backend="aot_eager")
    with pytest.raises(Exception, match=f"backend '{missing}' is unavailable"):
        compiled(actions)


def test_backend_resolution_is_marked_constant_as_torch_compiler_marks_it():
    """_backend.constant_under_compile marks a function as torch.compiler.assume_constant_result
    does (without importing torch._dynamo at import of wmkernels)."""
    def ours():
        return 1

    def theirs():
        return 1

    _backend.constant_under_compile(ours)
    torch.compiler.assume_constant_result(theirs)
    assert vars(ours) == vars(theirs) != {}


def _eager_mpc(planner, model, z0, goal, seeds):
    """MPC written out: plan from the warm start with seeds[k], execute the first action in the
    model, shift the plan by one step (its tail zeros clamped into the bounds); -> [(action, state)]."""
    resolved = planner.resolved_objective(z0)
    z, warm, steps = z0.clone(), None, []
    for seed in seeds:
        plan = planner.plan(z, goal, init=warm, seed=seed).actions
        tail = torch.clamp(torch.zeros_like(plan[:, :1]), resolved.lo, resolved.hi)
        warm = torch.cat([plan[:, 1:], tail], dim=1)
        z = model.step(z, plan[:, 0])
        steps.append((plan[:, 0].clone(), z.clone()))
    return steps


@pytest.mark.parametrize("kind", PLANNERS)
def test_mpc_keeps_its_warm_start_in_one_buffer(problem, kind):
    """MPC.act equals MPC written out, and from its second call it updates one warm-start buffer
    in place (what lets a captured step carry the warm start from replay to replay)."""
    model, z0, _, goal, obj = problem
    planner = PLANNERS[kind](model, obj, "torch", seed=30)
    mpc, state, steps, buffers = wmk.MPC(planner), z0.clone(), [], []
    for _ in range(4):
        action = mpc.act(state, goal)[:, 0]
        state = model.step(state, action)
        steps.append((action, state))
        buffers.append(mpc._warm)
    assert all(b is buffers[0] for b in buffers)
    for (a, s), (a_ref, s_ref) in zip(steps, _eager_mpc(planner, model, z0, goal, [30, 31, 32, 33]), strict=True):
        _same((a, s), (a_ref, s_ref))


# ---- on a GPU: host synchronisations and CUDA graphs -------------------------------------------

@ON_GPU
@pytest.mark.parametrize("kind", PLANNERS)
def test_plan_makes_no_host_sync_with_value_checks_off(problem, backend, kind, monkeypatch):
    """Value checks off and timed=False: no synchronising CUDA call inside plan()
    (torch.cuda.set_sync_debug_mode('error') raises on one; torch.cuda.synchronize is counted).
    With the checks on, the same call does synchronise: the probe sees it."""
    model, z0, actions, goal, obj = problem
    planner = PLANNERS[kind](model, obj, backend, timed=False)
    warm = actions[:, 0].clamp(-0.8, 0.7)
    ref = planner.plan(z0, goal, init=warm)  # first use: kernels built, objective resolved
    torch.cuda.synchronize()
    waits = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *args, **kwargs: waits.append(args))
    torch.cuda.set_sync_debug_mode("error")
    try:
        with wmk.value_checks(False):
            out = planner.plan(z0, goal, init=warm)
        with pytest.raises(RuntimeError, match="synchronizing"):
            planner.plan(z0, goal, init=warm)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert waits == []
    assert torch.equal(out.actions, ref.actions) and torch.equal(out.cost, ref.cost)


@ON_GPU
@pytest.mark.parametrize("kind", PLANNERS)
def test_mpc_step_in_a_captured_graph_replays_the_eager_steps(problem, backend, kind):
    """An MPC step (plan from the warm start, execute the first action in the model, shift the
    warm start) captured in a CUDA graph after two eager steps, replayed: the same actions and
    states as eager MPC whose later steps use the captured step's seed (a graph replays it).
    Value checks and timing step aside by themselves while the stream captures. Everything runs
    on one stream, so cuBLAS (torch backend) keeps one workspace and its results."""
    model, z0, _, goal, obj = problem
    steps, seed = 6, 30
    planner = PLANNERS[kind](model, obj, backend, seed=seed)
    mpc, state = wmk.MPC(planner), z0.clone()

    def mpc_step():
        action = mpc.act(state, goal)[:, 0]
        state.copy_(model.step(state, action))
        return action

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        eager = _eager_mpc(planner, model, z0, goal, [seed + min(k, 2) for k in range(steps)])
        captured = [(mpc_step().clone(), state.clone()) for _ in range(2)]  # also warms every kernel up
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=side):
            action = mpc_step()
        for _ in range(steps - 2):
            graph.replay()
            captured.append((action.clone(), state.clone()))
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    for (a, s), (a_ref, s_ref) in zip(captured, eager, strict=True):
        _same((a, s), (a_ref, s_ref))
