"""The Triton GBP plan in one-row tiles (settings.GBP_ROWS, for fewer than 16 candidates per
problem): the same plan as the float64 reference, with every output poisoned first."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model, random_problem, rel_err
from wmkernels import _backend

pytestmark = pytest.mark.skipif(_backend.unavailable_reason("triton", "cpu") is not None
                                and not torch.cuda.is_available(), reason="triton cannot run here")


@pytest.fixture
def rows(monkeypatch):
    from wmkernels.ops._triton import packing, settings
    monkeypatch.setattr(settings, "GBP_ROWS", True)
    monkeypatch.setenv("WMK_POISON", "1")
    return packing


@pytest.mark.parametrize("N,widths,activation,skip", [
    (1, (40,), "relu", "identity"),
    (3, (20, 33), "tanh", "matrix"),
])
def test_one_row_tiles_give_the_float64_plan(rows, N, widths, activation, skip, device):
    P, T, D, A = 2, 3, 6, 3
    assert rows.block_sizes(rows.pack_model(*_model_block(D, A, widths)), N, "gbp")["BN"] == 1
    model = random_model(D, A, widths, activation, skip, dtype=torch.float32, device=device, seed=N)
    z0, init, goal = random_problem(P, N, T, D, A, dtype=torch.float32, device=device, seed=N + 10)
    obj = wmk.Objective(mode="all", base=0.5, action_penalty=0.01, lo=-1.0, hi=1.0)
    out = wmk.ops.gbp_plan(model, z0, goal, obj, init, iters=2, lr=0.05, noise=0.01, seed=3, backend="triton")
    ref = wmk.ops.gbp_plan(model.to(dtype=torch.float64), z0.double(), goal.double(), obj, init.double(), iters=2,
                           lr=0.05, noise=0.01, seed=3, backend="torch")
    for o, r in zip(out, ref):
        assert torch.isfinite(o).all()
        assert rel_err(o, r) < 1e-4


def _model_block(D, A, widths):
    sizes = [D + A, *widths, D]
    weights = [torch.zeros(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
    return weights, [torch.zeros(o) for o in sizes[1:]], None, 0
