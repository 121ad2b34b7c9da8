"""Whole sampling-based plans (CEM, MPPI) in plain PyTorch.

Iteration k draws S candidates per problem around the mean, sample 0 being the mean itself:
    a_{p,s} = clamp(mean_p + std_p * eps_{p,s}, lo, hi),  eps_{p,0} = 0,
    eps_{p,s,t,j} = normal(seed, STREAM_SAMPLE, k, p, s, t*A + j)
CEM refits to the `elites` lowest-cost candidates (ties: the lower sample index; mean,
population std);
MPPI takes the softmax(-(cost - min cost) / temperature) weighted mean and keeps std fixed.
Both blend with momentum, then clamp the mean into the bounds:
    mean = clamp(momentum * mean + (1 - momentum) * refit, lo, hi)
(std = momentum * std + (1 - momentum) * refit for CEM).

mean, std [P, T, A] -> mean [P, T, A], cost of the returned mean [P], history [P, iters]
(mean elite cost for CEM, softmax-weighted cost for MPPI).
"""
import torch

from ... import _random
from ..rollouts.naive import rollout


def _candidates(mean, std, samples, k, seed, obj):
    P, T, A = mean.shape
    eps = _random.normal_block(seed, _random.STREAM_SAMPLE, k, P, samples, T, A,
                               device=mean.device).to(mean.dtype)
    eps[:, 0] = 0.0
    return torch.clamp(mean[:, None] + std[:, None] * eps, obj.lo, obj.hi)


def _final(model, z0, goal, obj, mean):
    return rollout(model, z0, mean[:, None], goal, obj)[:, 0]


def cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, momentum, seed):
    mean, std = mean.clone(), std.clone()
    P, T, A = mean.shape
    history = torch.empty(P, iters, dtype=mean.dtype, device=mean.device)
    for k in range(iters):
        cand = _candidates(mean, std, samples, k, seed, obj)
        cost = rollout(model, z0, cand, goal, obj)
        idx = torch.sort(cost, dim=1, stable=True).indices[:, :elites]    # ties: the lower sample index
        elite_cost = torch.gather(cost, 1, idx)
        elite = torch.gather(cand, 1, idx[:, :, None, None].expand(P, elites, T, A))
        history[:, k] = elite_cost.mean(dim=1)
        mean = torch.clamp(momentum * mean + (1.0 - momentum) * elite.mean(dim=1), obj.lo, obj.hi)
        std = momentum * std + (1.0 - momentum) * elite.std(dim=1, unbiased=False)
    return mean, _final(model, z0, goal, obj, mean), history


def mppi_plan(model, z0, goal, obj, mean, std, samples, iters, temperature, momentum, seed):
    mean = mean.clone()
    P, T, A = mean.shape
    history = torch.empty(P, iters, dtype=mean.dtype, device=mean.device)
    for k in range(iters):
        cand = _candidates(mean, std, samples, k, seed, obj)
        cost = rollout(model, z0, cand, goal, obj)
        weight = torch.softmax(-(cost - cost.min(dim=1, keepdim=True).values) / temperature, dim=1)
        history[:, k] = (weight * cost).sum(dim=1)
        mean = torch.clamp(momentum * mean + (1.0 - momentum) * (weight[:, :, None, None] * cand).sum(dim=1),
                           obj.lo, obj.hi)
    return mean, _final(model, z0, goal, obj, mean), history
