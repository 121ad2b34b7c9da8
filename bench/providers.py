"""Ways to run a workload's whole plan, each returning a zero-argument callable -> actions [P, T, A].

  eager    the way DINO-WM plans: a Python loop over steps, autograd and torch.optim.Adam for GBP;
           CEM / MPPI loop over problems in Python
  compile  torch.compile(mode="reduce-overhead") of one whole batched iteration (CUDA graphs
           on GPU, the TD-MPC2 way): for GBP the gradient, the Adam update, noise and clamp
  torch, triton, cpp, cuda   wmkernels' ops with that backend (whole plans in one call)

With shared_draws=True the eager and compile providers take their random numbers from
wmkernels' counter-based generator, so every provider computes the same plan (the check
before timing); with shared_draws=False they use torch.randn, as the originals do.
"""
import torch

import wmkernels as wmk
from wmkernels import _random

from .workloads import Workload

FUSED = ("torch", "triton", "cpp", "cuda")


def _draws(stream, step, P, N, T, A, device, shared, dtype):
    if shared:
        return _random.normal_block(0, stream, step, P, N, T, A, device=device).to(dtype)
    return torch.randn(P, N, T, A, device=device, dtype=dtype)


def _weights(objective, w: Workload, z0):
    r = objective.resolve(w.T, w.D, w.A, z0.dtype, z0.device)
    return r.step_weights, r.state_weights, r.lo, r.hi


def _cost(module, z0, actions, goal, step_weights, state_weights):
    """[P, N] goal cost of actions [P, N, T, A], one model call per step."""
    P, N, T, A = actions.shape
    z = z0[:, None].expand(P, N, z0.shape[-1]).reshape(P * N, -1)
    g = goal[:, None].expand(P, N, goal.shape[-1]).reshape(P * N, -1)
    total = 0.0
    for t in range(T):
        z = module(z, actions[:, :, t].reshape(P * N, A))
        total = total + step_weights[t] * ((z - g) ** 2 * state_weights).sum(-1)
    return total.view(P, N)


def _initial(w, z0, lo, hi):
    draws = _random.normal_block(0, _random.STREAM_INIT, 0, w.P, w.N, w.T, w.A, device=z0.device)
    return torch.clamp(draws.to(z0.dtype), lo, hi)


def _pick_best(module, z0, goal, actions, sw, qw):
    with torch.no_grad():
        final = _cost(module, z0, actions, goal, sw, qw)
    best = final.argmin(1)
    return actions[torch.arange(actions.shape[0], device=actions.device), best]


def eager_gbp(w, model, z0, goal, objective, shared_draws):
    """DINO-WM's GBP: autograd through a Python loop over steps, torch.optim.Adam."""
    module = model.to_module().requires_grad_(False)
    sw, qw, lo, hi = _weights(objective, w, z0)

    def run():
        actions = _initial(w, z0, lo, hi).requires_grad_(True)
        opt = torch.optim.Adam([actions], lr=w.lr)
        for k in range(w.iters):
            opt.zero_grad(set_to_none=False)
            _cost(module, z0, actions, goal, sw, qw).sum().backward()
            opt.step()
            with torch.no_grad():
                actions.add_(w.noise * _draws(_random.STREAM_NOISE, k, w.P, w.N, w.T, w.A, z0.device,
                                              shared_draws, z0.dtype))
                torch.clamp(actions, lo, hi, out=actions)
        return _pick_best(module, z0, goal, actions.detach(), sw, qw)
    return run


def compiled_gbp(w, model, z0, goal, objective, shared_draws, beta1=0.9, beta2=0.999, eps=1e-8):
    """One compiled GBP iteration (gradient by torch.func.grad, torch.optim.Adam's update, noise,
    clamp) on all problems; the bias corrections 1 - beta^k come in as tensors so that one
    graph serves every k."""
    module = model.to_module().requires_grad_(False)
    sw, qw, lo, hi = _weights(objective, w, z0)
    grad = torch.func.grad(lambda a: _cost(module, z0, a, goal, sw, qw).sum())

    def iteration(actions, m, v, bc1, bc2, noise):
        g = grad(actions)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        actions = actions - w.lr * (m / bc1) / ((v / bc2).sqrt() + eps)
        return torch.clamp(actions + w.noise * noise, lo, hi), m, v
    iteration = torch.compile(iteration, mode="reduce-overhead")

    def run():
        actions = _initial(w, z0, lo, hi)
        m, v = torch.zeros_like(actions), torch.zeros_like(actions)
        for k in range(w.iters):
            bc1, bc2 = (torch.tensor(1 - b ** (k + 1), device=z0.device, dtype=z0.dtype) for b in (beta1, beta2))
            noise = _draws(_random.STREAM_NOISE, k, w.P, w.N, w.T, w.A, z0.device, shared_draws, z0.dtype)
            torch.compiler.cudagraph_mark_step_begin()
            actions, m, v = (t.clone() for t in iteration(actions, m, v, bc1, bc2, noise))
        return _pick_best(module, z0, goal, actions, sw, qw)
    return run


def _refit(w, cand, cost, mean, std):
    if w.planner == "cem":
        idx = torch.topk(cost, w.elites, dim=-1, largest=False).indices
        elite = torch.gather(cand, -3, idx[..., None, None].expand(*idx.shape, w.T, w.A))
        return elite.mean(-3), elite.std(-3, unbiased=False)
    weight = torch.softmax(-cost / w.temperature, dim=-1)
    return (weight[..., None, None] * cand).sum(-3), std


def eager_sampling(w, model, z0, goal, objective, shared_draws):
    """DINO-WM's CEM: one problem at a time in a Python loop."""
    module = model.to_module().requires_grad_(False)
    sw, qw, lo, hi = _weights(objective, w, z0)

    @torch.no_grad()
    def run():
        plans = []
        for p in range(w.P):
            mean = torch.clamp(torch.zeros(w.T, w.A, device=z0.device, dtype=z0.dtype), lo, hi)
            std = torch.ones_like(mean)
            for k in range(w.iters):
                eps = _draws(_random.STREAM_SAMPLE, k, w.P, w.N, w.T, w.A, z0.device, shared_draws, z0.dtype)[p]
                eps[0] = 0.0
                cand = torch.clamp(mean + std * eps, lo, hi)
                cost = _cost(module, z0[p:p + 1], cand[None], goal[p:p + 1], sw, qw)[0]
                mean, std = _refit(w, cand, cost, mean, std)
            plans.append(mean)
        return torch.stack(plans)
    return run


def compiled_sampling(w, model, z0, goal, objective, shared_draws):
    """All problems batched, one compiled iteration (sample, roll out, refit) per step."""
    module = model.to_module().requires_grad_(False)
    sw, qw, lo, hi = _weights(objective, w, z0)

    def iteration(mean, std, eps):
        eps = torch.cat([torch.zeros_like(eps[:, :1]), eps[:, 1:]], dim=1)
        cand = torch.clamp(mean[:, None] + std[:, None] * eps, lo, hi)
        return _refit(w, cand, _cost(module, z0, cand, goal, sw, qw), mean, std)
    iteration = torch.compile(iteration, mode="reduce-overhead")

    @torch.no_grad()
    def run():
        mean = torch.clamp(torch.zeros(w.P, w.T, w.A, device=z0.device, dtype=z0.dtype), lo, hi)
        std = torch.ones_like(mean)
        for k in range(w.iters):
            eps = _draws(_random.STREAM_SAMPLE, k, w.P, w.N, w.T, w.A, z0.device, shared_draws, z0.dtype)
            torch.compiler.cudagraph_mark_step_begin()
            mean, std = (t.clone() for t in iteration(mean, std, eps))
        return mean
    return run


def fused(w, model, z0, goal, objective, backend):
    sw, qw, lo, hi = _weights(objective, w, z0)
    if w.planner == "gbp":
        init = _initial(w, z0, lo, hi)
        return lambda: wmk.ops.gbp_plan(model, z0, goal, objective, init, w.iters, w.lr, noise=w.noise,
                                        seed=0, backend=backend)[0]
    mean = torch.clamp(torch.zeros(w.P, w.T, w.A, device=z0.device, dtype=z0.dtype), lo, hi)
    std = torch.ones_like(mean)
    if w.planner == "cem":
        return lambda: wmk.ops.cem_plan(model, z0, goal, objective, mean, std, w.N, w.elites, w.iters,
                                        seed=0, backend=backend)[0]
    return lambda: wmk.ops.mppi_plan(model, z0, goal, objective, mean, std, w.N, w.iters, w.temperature,
                                     seed=0, backend=backend)[0]


def make_runner(provider: str, w: Workload, model, z0, goal, objective, shared_draws: bool):
    if provider in FUSED:
        return fused(w, model, z0, goal, objective, provider)
    if provider == "eager":
        make = eager_gbp if w.planner == "gbp" else eager_sampling
        return make(w, model, z0, goal, objective, shared_draws)
    if provider == "compile":
        if w.planner == "gbp":
            return compiled_gbp(w, model, z0, goal, objective, shared_draws)
        return compiled_sampling(w, model, z0, goal, objective, shared_draws)
    raise ValueError(f"unknown provider {provider!r}")
