"""Projected Adam and SGD steps on action sequences, in place, in plain PyTorch.

Adam at step k (1-based), elementwise:
    m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
    a <- a - lr * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)
    a <- clamp(a + noise, lo, hi)
SGD: a <- clamp(a - lr g + noise, lo, hi).
actions, grad, m, v, noise: same shape [..., A]; lo, hi [A].
"""
import torch


def adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise=None):
    m.mul_(beta1).add_(grad, alpha=1.0 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    m_hat = m / (1.0 - beta1 ** step)
    v_hat = v / (1.0 - beta2 ** step)
    actions.sub_(lr * m_hat / (torch.sqrt(v_hat) + eps))
    return _finish(actions, lo, hi, noise)


def sgd_step(actions, grad, lr, lo, hi, noise=None):
    actions.sub_(lr * grad)
    return _finish(actions, lo, hi, noise)


def _finish(actions, lo, hi, noise):
    if noise is not None:
        actions.add_(noise)
    return torch.clamp(actions, lo, hi, out=actions)
