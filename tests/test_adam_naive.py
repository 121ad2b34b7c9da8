import torch

import wmkernels as wmk


def test_adam_step_matches_torch_optim_adam_without_bounds():
    gen = torch.Generator().manual_seed(3)
    actions = torch.randn(3, 2, 5, 3, generator=gen, dtype=torch.float64)
    reference = actions.clone().requires_grad_(True)
    opt = torch.optim.Adam([reference], lr=0.07, betas=(0.8, 0.95), eps=1e-6)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    for step in range(1, 8):
        grad = torch.randn(actions.shape, generator=gen, dtype=torch.float64)
        reference.grad = grad.clone()
        opt.step()
        wmk.ops.adam_step(actions, grad, m, v, step, 0.07, 0.8, 0.95, 1e-6, backend="torch")
    assert torch.allclose(actions, reference.detach(), rtol=1e-12, atol=1e-12)


def test_adam_step_adds_noise_then_projects():
    actions = torch.zeros(2, 4, dtype=torch.float64)
    grad = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], dtype=torch.float64)
    noise = torch.tensor([[0.0, 0.0, 5.0, -5.0], [0.01, 0.0, 0.0, 0.0]], dtype=torch.float64)
    lo = torch.tensor([-0.5, -0.5, -1.0, -1.0], dtype=torch.float64)
    hi = torch.tensor([0.5, 0.5, 1.0, 1.0], dtype=torch.float64)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    wmk.ops.adam_step(actions, grad, m, v, 1, 0.1, lo=lo, hi=hi, noise=noise, backend="torch")
    # first Adam step moves each coordinate by lr * sign(g) (up to eps)
    expected = torch.tensor([[-0.1, 0.1, 1.0, -1.0], [0.01, 0.0, -0.1, 0.1]], dtype=torch.float64)
    assert torch.allclose(actions, expected, atol=1e-6)
