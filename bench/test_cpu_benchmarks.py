"""A small CPU subset for pytest-benchmark: `pytest bench/ --benchmark-only`.

paper-gbp and paper-cem with 8 problems instead of 50, every CPU provider available here.
The full tables come from `python -m bench.suite`.
"""
import dataclasses

import pytest
import torch

from wmkernels import _backend

from .providers import make_runner
from .workloads import WORKLOADS, make_problem

CPU_PROVIDERS = [p for p in ("eager", "torch", "cpp") if p == "eager" or _backend.unavailable_reason(p, "cpu") is None]


@pytest.mark.parametrize("provider", CPU_PROVIDERS)
@pytest.mark.parametrize("name", ["paper-gbp", "paper-cem"])
def test_plan(benchmark, name, provider):
    w = dataclasses.replace(WORKLOADS[name], P=8)
    model, z0, goal, objective = make_problem(w, torch.device("cpu"))
    run = make_runner(provider, w, model, z0, goal, objective, shared_draws=False)
    benchmark.group = name
    actions = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert actions.shape == (w.P, w.T, w.A) and bool(torch.isfinite(actions).all())
