"""Rollout and its gradient in plain PyTorch: the executable specification.

Shapes: z0 [P, D], actions [P, N, T, A], goal [P, D]; cost [P, N]; states [P, N, T+1, D];
grad = dC/dactions [P, N, T, A]. `obj` is a ResolvedObjective.

Backward through time for an MLPWorldModel (x_t = [z_t, a_t], pre_l the pre-activations):

    dz_{t+1} += 2 w_{t+1} q (z_{t+1} - g)                 # this step's own cost term
    dh_L      = dz_{t+1} W_o^T;  dpre_l = dh_l * act'(pre_l);  dh_{l-1} = dpre_l W_l^T
    dx_t      = dpre_1 W_1^T
    da_t      = dx_t[D:] + 2 lam a_t
    dz_t      = dz_{t+1} S^T + dx_t[:D]
"""
import torch

from ... import activations
from ...model import MLPWorldModel
from ...objective import cost as objective_cost


def _step(model, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """One transition of any world model on [P, N, *] tensors."""
    if isinstance(model, MLPWorldModel):
        return model.step(z, a)
    P, N = z.shape[:2]
    return model(z.reshape(P * N, -1), a.reshape(P * N, -1)).reshape(P, N, -1)


def rollout(model, z0, actions, goal, obj, return_states=False):
    """Cost [P, N] of each candidate, and the states [P, N, T+1, D] if asked."""
    P, N, T, _ = actions.shape
    z = z0[:, None, :].expand(P, N, z0.shape[-1])
    states = [z]
    for t in range(T):
        z = _step(model, z, actions[:, :, t])
        states.append(z)
    states = torch.stack(states, dim=2)
    cost = objective_cost(states, actions, goal[:, None, :], obj)
    return (cost, states) if return_states else cost


def rollout_grad(model, z0, actions, goal, obj):
    """(cost [P, N], dC/dactions [P, N, T, A]); hand-written BPTT for MLPWorldModel."""
    if not isinstance(model, MLPWorldModel):
        return _autograd_rollout_grad(model, z0, actions, goal, obj)
    P, N, T, A = actions.shape
    D = model.state_dim
    hidden = list(zip(model.weights[:-1], model.biases[:-1]))
    w_out, b_out = model.weights[-1], model.biases[-1]

    z = z0[:, None, :].expand(P, N, D)
    states, pre_activations = [z], []
    for t in range(T):
        h = torch.cat([z, actions[:, :, t]], dim=-1)
        pres = []
        for w, b in hidden:
            pre = h @ w + b
            pres.append(pre)
            h = activations.apply(model.activation, pre)
        z = (z if model.skip is None else z @ model.skip) + h @ w_out + b_out
        states.append(z)
        pre_activations.append(pres)
    states = torch.stack(states, dim=2)
    cost = objective_cost(states, actions, goal[:, None, :], obj)

    grad = torch.empty_like(actions)
    dz = torch.zeros_like(z)
    goal_b = goal[:, None, :]
    for t in reversed(range(T)):
        dz = dz + 2.0 * obj.step_weights[t] * obj.state_weights * (states[:, :, t + 1] - goal_b)
        dh = dz @ w_out.t()
        for (w, _), pre in zip(reversed(hidden), reversed(pre_activations[t])):
            dh = (dh * activations.derivative(model.activation, pre)) @ w.t()
        grad[:, :, t] = dh[..., D:] + 2.0 * obj.action_penalty * actions[:, :, t]
        dz = (dz if model.skip is None else dz @ model.skip.t()) + dh[..., :D]
    return cost, grad


def _autograd_rollout_grad(model, z0, actions, goal, obj):
    with torch.enable_grad():
        a = actions.detach().requires_grad_(True)
        cost = rollout(model, z0.detach(), a, goal, obj)
        (grad,) = torch.autograd.grad(cost.sum(), a)
    return cost.detach(), grad
