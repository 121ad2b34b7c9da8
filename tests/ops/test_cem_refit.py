"""CEM's refit against its closed form (docs/maths.md), on every backend: with a model whose cost
does not depend on the actions every candidate ties, so the elites are samples 0..E-1 and the plan
is a known function of the normal draws."""
import pytest
import torch

import wmkernels as wmk
from wmkernels import _random
from cases import F64, tol
from helpers import rel_err


def _expected_cem_mean(mean, std, samples, elites, iters, momentum, seed):
    """The CEM mean after `iters` refits to the first `elites` candidates, in float64: candidate
    s = mean + std * eps_s with eps_0 = 0, refit mean = elite average, refit std = the elites'
    population standard deviation sqrt(sum (x - x_bar)^2 / E), each blended with momentum."""
    P, T, A = mean.shape
    for k in range(iters):
        eps = _random.normal_block(seed, _random.STREAM_SAMPLE, k, P, samples, T, A).double()
        eps[:, 0] = 0.0
        elite = (mean[:, None] + std[:, None] * eps)[:, :elites]
        centre = elite.sum(1) / elites
        spread = (((elite - centre[:, None]) ** 2).sum(1) / elites).sqrt()
        mean = momentum * mean + (1 - momentum) * centre
        std = momentum * std + (1 - momentum) * spread
    return mean


# 7 samples, and 129: a sort that is not stable reorders ties among 100 or more (torch on the CPU).
@pytest.mark.parametrize("samples,elites,iters", [(7, 3, 3), (129, 4, 1)])
def test_cem_refits_mean_and_population_std_of_the_elites(samples, elites, iters, sampling_backend, device):
    P, T, D, A = 2, 3, 4, 3
    gen = torch.Generator().manual_seed(41)
    S = torch.eye(D, dtype=F64) + 0.1 * torch.randn(D, D, generator=gen, dtype=F64)
    model = wmk.linear_world_model(S, torch.zeros(A, D, dtype=F64)).to(device=device)   # actions do nothing
    z0, goal = (0.5 * torch.randn(P, D, generator=gen, dtype=F64) for _ in range(2))
    mean = torch.randn(P, T, A, generator=gen, dtype=F64)
    std = torch.rand(P, T, A, generator=gen, dtype=F64) + 0.5
    obj = wmk.Objective("all", base=0.9, lo=float("-inf"), hi=float("inf"))
    momentum, seed = 0.25, 5
    got, cost, history = wmk.ops.cem_plan(model, z0.to(device), goal.to(device), obj, mean.to(device), std.to(device),
                                          samples, elites, iters, momentum=momentum, seed=seed,
                                          backend=sampling_backend)
    expected = _expected_cem_mean(mean, std, samples, elites, iters, momentum, seed)
    assert rel_err(got, expected) < 10 * tol(sampling_backend, F64), rel_err(got, expected)
    constant = wmk.ops.rollout(model, z0.to(device), mean[:, None].to(device), goal.to(device), obj, backend="torch")
    assert rel_err(cost, constant[:, 0]) < tol(sampling_backend, F64)
    assert rel_err(history, constant.expand(P, iters)) < tol(sampling_backend, F64)
