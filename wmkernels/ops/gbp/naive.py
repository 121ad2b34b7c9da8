"""A whole gradient-based plan in plain PyTorch: `iters` projected Adam (or SGD) steps on
N candidate sequences per problem, then the candidate with the lowest final cost.

init [P, N, T, A] -> actions [P, T, A], cost [P] (of the returned actions),
history [P, iters] (lowest candidate cost at each iterate, before its step).
The noise after step k is noise * normal(seed, STREAM_NOISE, k, p, n, t*A + a).
"""
import torch

from ... import _random
from ..adam.naive import adam_step, sgd_step
from ..rollouts.naive import rollout, rollout_grad


def gbp_plan(model, z0, goal, obj, init, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    actions = init.clone()
    P, N, T, A = actions.shape
    m = torch.zeros_like(actions)
    v = torch.zeros_like(actions)
    history = torch.empty(P, iters, dtype=actions.dtype, device=actions.device)
    for k in range(iters):
        cost, grad = rollout_grad(model, z0, actions, goal, obj)
        history[:, k] = cost.min(dim=1).values
        step_noise = None
        if noise > 0:
            step_noise = noise * _random.normal_block(seed, _random.STREAM_NOISE, k, P, N, T, A,
                                                      device=actions.device).to(actions.dtype)
        if optimizer == "adam":
            adam_step(actions, grad, m, v, k + 1, lr, beta1, beta2, eps, obj.lo, obj.hi, step_noise)
        else:
            sgd_step(actions, grad, lr, obj.lo, obj.hi, step_noise)
    final = rollout(model, z0, actions, goal, obj)
    best = final.argmin(dim=1)
    rows = torch.arange(P, device=actions.device)
    return actions[rows, best], final[rows, best], history
