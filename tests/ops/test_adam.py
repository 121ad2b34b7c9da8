"""adam_step on every backend against the projected Adam step written out in float64 and against
torch.optim.Adam."""
import pytest
import torch

import wmkernels as wmk
from cases import F32, F64, tol
from helpers import rel_err

DTYPES = pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])


def adam_reference(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise):
    """(actions, m, v) after one projected Adam step, in float64:
    m' = b1 m + (1 - b1) g,  v' = b2 v + (1 - b2) g^2,
    a' = clamp(a - lr (m' / (1 - b1^k)) / (sqrt(v' / (1 - b2^k)) + eps) + noise, lo, hi)."""
    a, g, m, v, noise, lo, hi = (t.double() for t in (actions, grad, m, v, noise, lo, hi))
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    a = a - lr * (m / (1 - beta1 ** step)) / ((v / (1 - beta2 ** step)).sqrt() + eps) + noise
    return torch.maximum(torch.minimum(a, hi), lo), m, v


def _inputs(dtype, device, shape=(3, 5, 4, 7), seed=0):
    """(actions, grad, m, v, noise, lo, hi); the bounds mix finite and infinite entries."""
    gen = torch.Generator().manual_seed(seed)
    a, g, m, noise = (torch.randn(shape, generator=gen, dtype=F64) for _ in range(4))
    v = torch.rand(shape, generator=gen, dtype=F64)
    A = shape[-1]
    lo = -0.2 - torch.rand(A, generator=gen, dtype=F64)
    hi = 0.1 + torch.rand(A, generator=gen, dtype=F64)
    lo[::3], hi[1::3] = float("-inf"), float("inf")
    return tuple(t.to(device=device, dtype=dtype) for t in (a, g, m, v, 0.01 * noise, lo, hi))


@DTYPES
def test_adam_step_matches_the_closed_form(backend, dtype, device):
    a, g, m, v, noise, lo, hi = _inputs(dtype, device)
    ref = adam_reference(a, g, m, v, 4, 0.05, 0.8, 0.99, 1e-6, lo, hi, noise)
    x, mm, vv = a.clone(), m.clone(), v.clone()
    out = wmk.ops.adam_step(x, g, mm, vv, 4, 0.05, 0.8, 0.99, 1e-6, lo, hi, noise, backend=backend)
    assert out is x and x.dtype == mm.dtype == vv.dtype == dtype
    assert bool((ref[0] == lo.double()).any()) and bool((ref[0] == hi.double()).any())  # both bounds bind
    for name, got, want in zip(("actions", "m", "v"), (x, mm, vv), ref):
        assert rel_err(got, want) < tol(backend, dtype), (name, rel_err(got, want))


@DTYPES
def test_adam_steps_match_torch_optim_adam(backend, dtype, device):
    """Seven unbounded steps from m = v = 0 follow torch.optim.Adam (float64)."""
    gen = torch.Generator().manual_seed(3)
    actions = torch.randn(3, 2, 5, 3, generator=gen, dtype=F64).to(device=device, dtype=dtype)
    reference = actions.double().clone().requires_grad_(True)
    opt = torch.optim.Adam([reference], lr=0.07, betas=(0.8, 0.95), eps=1e-6)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    for step in range(1, 8):
        grad = torch.randn(actions.shape, generator=gen, dtype=F64).to(device=device, dtype=dtype)
        reference.grad = grad.double()
        opt.step()
        wmk.ops.adam_step(actions, grad, m, v, step, 0.07, 0.8, 0.95, 1e-6, backend=backend)
    assert rel_err(actions, reference.detach()) < tol(backend, dtype)
    assert rel_err(m, opt.state[reference]["exp_avg"]) < tol(backend, dtype)
    assert rel_err(v, opt.state[reference]["exp_avg_sq"]) < tol(backend, dtype)


@DTYPES
def test_adam_step_adds_noise_then_projects(backend, dtype, device):
    """A first step moves each coordinate by lr * sign(g); noise is added before the projection."""
    opts = dict(dtype=dtype, device=device)
    actions = torch.zeros(2, 4, **opts)
    grad = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], **opts)
    noise = torch.tensor([[0.0, 0.0, 5.0, -5.0], [0.01, 0.0, 0.0, 0.0]], **opts)
    lo = torch.tensor([-0.5, -0.5, -1.0, -1.0], **opts)
    hi = torch.tensor([0.5, 0.5, 1.0, 1.0], **opts)
    m, v = torch.zeros_like(actions), torch.zeros_like(actions)
    wmk.ops.adam_step(actions, grad, m, v, 1, 0.1, eps=1e-12, lo=lo, hi=hi, noise=noise, backend=backend)
    expected = torch.tensor([[-0.1, 0.1, 1.0, -1.0], [0.01, 0.0, -0.1, 0.1]], dtype=F64)
    assert rel_err(actions, expected) < tol(backend, dtype)


@DTYPES
def test_adam_step_with_scalar_bounds(backend, dtype, device):
    """Scalar bounds apply to every action dimension: a first step of 0.5 lands on lo = -0.2."""
    a = torch.zeros(2, 3, 5, dtype=dtype, device=device)
    g = torch.linspace(0.5, 2.0, a.numel(), dtype=dtype, device=device).view(a.shape)
    m, v = torch.zeros_like(a), torch.zeros_like(a)
    out = wmk.ops.adam_step(a, g, m, v, 1, 0.5, lo=-0.2, hi=0.2, backend=backend)
    assert out is a
    assert rel_err(a, torch.full_like(a, -0.2)) < tol(backend, dtype)
    assert rel_err(m, 0.1 * g) < tol(backend, dtype) and rel_err(v, 0.001 * g * g) < tol(backend, dtype)


def test_adam_step_keeps_float64_actions_inside_the_bounds(backend, device):
    """float64 actions far outside bounds that float32 cannot represent: every projected action
    lies in [lo, hi] exactly, also on the backends that clamp in float32 (the bounds reach them
    rounded inwards to float32 values)."""
    a, g, m, v, noise, lo, hi = _inputs(F64, device, seed=3)
    a = 10.0 * a
    x, mm, vv = a.clone(), m.clone(), v.clone()
    wmk.ops.adam_step(x, g, mm, vv, 2, 0.05, lo=lo, hi=hi, noise=noise, backend=backend)
    assert bool(((x >= lo) & (x <= hi)).all())
    assert bool((((x - lo).abs() < 1e-6) | ((x - hi).abs() < 1e-6)).any())   # the bounds bind


def test_naive_sgd_step_matches_the_closed_form():
    """The torch backend's SGD step (used by its GBP plan): a <- clamp(a - lr g + noise, lo, hi)."""
    from wmkernels.ops.adam.naive import sgd_step
    a, g, _, _, noise, lo, hi = _inputs(F64, "cpu", shape=(2, 3, 5))
    want = torch.maximum(torch.minimum(a - 0.3 * g + noise, hi), lo)
    x = a.clone()
    assert sgd_step(x, g, 0.3, lo, hi, noise) is x
    assert torch.equal(x, want)
    x = a.clone()
    sgd_step(x, g, 0.3, lo, hi)
    assert torch.equal(x, torch.maximum(torch.minimum(a - 0.3 * g, hi), lo))
