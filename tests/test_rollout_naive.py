"""The naive rollout and its hand-written BPTT against autograd and finite differences."""
import pytest
import torch

import wmkernels as wmk
from wmkernels import activations
from wmkernels.ops.rollouts import naive
from helpers import random_model, random_problem

CASES = {  # id: (D, A, widths, T, N, P, skip)
    "D3-A1-H7-T1": (3, 1, (7,), 1, 2, 1, "identity"),
    "D5-A3-H13x6-T4": (5, 3, (13, 6), 4, 3, 2, "matrix"),
    "D2-A5-H9x9x9-T3": (2, 5, (9, 9, 9), 3, 1, 3, "zero"),
    "D7-A2-H5x11x3x8-T6": (7, 2, (5, 11, 3, 8), 6, 2, 1, "identity"),
}
OBJECTIVES = {
    "last": wmk.Objective("last"),
    "all-base0.5-q-penalty": wmk.Objective("all", base=0.5, q=None, action_penalty=0.3),
    "weights": None,  # explicit weights, built per horizon
}


def _objective(name, T, D):
    if name != "weights":
        return OBJECTIVES[name]
    gen = torch.Generator().manual_seed(T)
    return wmk.Objective(weights=torch.rand(T, generator=gen).tolist(),
                         q=(torch.rand(D, generator=gen) + 0.1).tolist(), action_penalty=0.05)


class _Cost(torch.autograd.Function):
    """cost(actions) whose backward is the hand-written BPTT, for gradcheck."""

    @staticmethod
    def forward(ctx, actions, model, z0, goal, obj):
        cost, grad = naive.rollout_grad(model, z0, actions, goal, obj)
        ctx.save_for_backward(grad)
        return cost

    @staticmethod
    def backward(ctx, grad_cost):
        (grad,) = ctx.saved_tensors
        return grad_cost[..., None, None] * grad, None, None, None, None


@pytest.mark.parametrize("objective", list(OBJECTIVES))
@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("case", list(CASES))
def test_bptt_matches_autograd_and_gradcheck(case, activation, objective):
    D, A, widths, T, N, P, skip = CASES[case]
    model = random_model(D, A, widths, activation, skip, seed=hash((case, activation)) % 1000)
    z0, actions, goal = random_problem(P, N, T, D, A, seed=len(case))
    obj = _objective(objective, T, D).resolve(T, D, A, torch.float64)

    cost, grad = naive.rollout_grad(model, z0, actions, goal, obj)
    leaf = actions.clone().requires_grad_(True)
    ref_cost = naive.rollout(model.to_module(), z0, leaf, goal, obj)
    (ref_grad,) = torch.autograd.grad(ref_cost.sum(), leaf)
    assert torch.allclose(cost, ref_cost.detach(), rtol=1e-12, atol=1e-12)
    assert torch.allclose(grad, ref_grad, rtol=1e-10, atol=1e-10)

    probe = actions.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: _Cost.apply(a, model, z0, goal, obj), (probe,))


def test_states_follow_the_model_step():
    model = random_model(4, 2, (6,), "elu", "matrix")
    z0, actions, goal = random_problem(2, 3, 5, 4, 2)
    cost, states = wmk.ops.rollout(model, z0, actions, goal, wmk.Objective("all", base=0.7), return_states=True)
    assert states.shape == (2, 3, 6, 4)
    assert torch.equal(states[:, :, 0], z0[:, None].expand(2, 3, 4))
    for t in range(5):
        assert torch.allclose(states[:, :, t + 1], model.step(states[:, :, t], actions[:, :, t]))
    w = torch.tensor([0.7 ** t for t in range(5)], dtype=torch.float64)
    expected = (((states[:, :, 1:] - goal[:, None, None]) ** 2).sum(-1) * w).sum(-1)
    assert torch.allclose(cost, expected)


def test_generic_module_goes_through_autograd():
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()

    class Model(torch.nn.Module):
        def forward(self, z, a):
            return z + net(torch.cat([z, a], -1))

    model = wmk.MLPWorldModel.from_module(net)
    z0, actions, goal = random_problem(2, 3, 4, 3, 2)
    obj = wmk.Objective("all", base=0.9, action_penalty=0.1)
    c1, g1 = wmk.ops.rollout_grad(Model(), z0, actions, goal, obj, backend="torch")
    c2, g2 = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")
    assert torch.allclose(c1, c2) and torch.allclose(g1, g2)
