"""The cpp backend's work split over CPU threads: built with OpenMP (at::parallel_for runs on one
thread otherwise), and the same results on 1, 2 and 3 threads for every fused op, with uneven
splits (rows, problems and samples not divisible by the thread count) and NaN-poisoned outputs
and scratch, so a row that no thread computes, or two threads sharing scratch, fails."""
from pathlib import Path

import pytest
import torch

import wmkernels as wmk
from cpp_helpers import cpp_reason, poison  # noqa: F401  (poison: autouse fixture)
from helpers import random_model, random_problem, rel_err

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))

# float64 runs the same operations in the same order whatever the split, except the first layer
# of step 0 (computed once per tile when all its rows share z0), which may round differently.
SPLIT_TOL = 1e-12


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def test_extension_is_built_with_openmp():
    assert "-fopenmp" in wmk.info()["extension"]["cxx_flags"].split()


def _ops(P, N, T, D, A, widths):
    model = random_model(D, A, widths, "silu", "matrix", seed=11)
    z0, actions, goal = random_problem(P, N, T, D, A, torch.float64, "cpu", seed=12)
    obj = wmk.Objective("all", base=0.6, action_penalty=0.05, lo=-0.8, hi=0.9)
    init = actions.clamp(-0.8, 0.9)
    mean, std = init[:, 0].clone(), torch.full_like(init[:, 0], 0.5)
    return {
        "rollout_grad": lambda: wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="cpp"),
        "gbp_plan": lambda: wmk.ops.gbp_plan(model, z0, goal, obj, init, 4, 0.1, noise=0.01, seed=3,
                                             backend="cpp"),
        "cem_plan": lambda: wmk.ops.cem_plan(model, z0, goal, obj, mean, std, 37, 5, 3, seed=3, backend="cpp"),
        "mppi_plan": lambda: wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, 37, 3, 0.5, seed=3,
                                               backend="cpp"),
    }


@pytest.mark.parametrize("shape", [(1, 41, 3, 7, 3, (150, 33)), (5, 1, 2, 9, 2, (20,)), (3, 7, 2, 5, 4, (40, 17))],
                         ids=["one-problem", "one-candidate", "several"])
@pytest.mark.parametrize("op", ["rollout_grad", "gbp_plan", "cem_plan", "mppi_plan"])
def test_every_thread_count_gives_the_one_thread_result(op, shape, threads):
    run = _ops(*shape)[op]
    threads(1)
    want = run()
    for n in (2, 3):
        threads(n)
        got = run()
        for g, w in zip(got, want):
            assert bool(torch.isfinite(g).all()), (op, n)
            assert rel_err(g, w) < SPLIT_TOL, (op, n, rel_err(g, w))


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps (Linux)")
def test_one_openmp_runtime_in_the_process():
    """The extension's OpenMP loops run on the runtime torch loaded, so torch.set_num_threads
    governs them and at::get_num_threads() sizes their scratch: a second libgomp would do neither."""
    model = random_model(3, 2, (4,), "relu", seed=1)
    z0, actions, goal = random_problem(1, 1, 1, 3, 2, torch.float64, "cpu", seed=2)
    wmk.ops.rollout(model, z0, actions, goal, wmk.Objective(), backend="cpp")   # loads the extension
    runtimes = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                if "libgomp" in line.split()[-1]}
    assert len(runtimes) == 1, runtimes

