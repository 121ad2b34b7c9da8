"""A differentiable rollout cost on every backend.

    cost [P, N] = C(actions [P, N, T, A]);  d(sum_pn g_pn cost_pn) / d actions = g[..., None, None] * dC/da

On the fused backends the forward runs the fused rollout_grad op once and keeps dC/da for
the backward; the torch backend differentiates its rollout with autograd. Gradients flow to
the actions only: the model, z0, goal and objective are constants.
"""
import torch

from .. import _backend


class _FusedRolloutCost(torch.autograd.Function):
    @staticmethod
    def forward(ctx, actions, model, z0, goal, objective, backend):
        from . import rollout_grad
        cost, grad = rollout_grad(model, z0, actions.detach(), goal, objective, backend=backend)
        ctx.save_for_backward(grad)
        return cost

    @staticmethod
    def backward(ctx, grad_cost):
        (grad,) = ctx.saved_tensors
        return grad_cost[..., None, None] * grad, None, None, None, None, None


def rollout_cost(model, z0, actions, goal, objective, backend="auto"):
    """Cost [P, N] of actions [P, N, T, A], differentiable with respect to the actions."""
    from . import rollout
    name = _backend.resolve(backend, actions.device, model)
    if name == "torch":
        return rollout(model, z0, actions, goal, objective, backend="torch")
    return _FusedRolloutCost.apply(actions, model, z0, goal, objective, name)
