"""Random models and problems for the tests, and the relative-error norm they compare with."""
import os

import torch

import wmkernels as wmk
from wmkernels import _backend

DEVICE = os.environ.get("WMK_TEST_DEVICE", "cpu")


def available_backends(device=DEVICE):
    return [b for b in _backend.BACKENDS if _backend.unavailable_reason(b, device) is None]


def fused_backends(device=DEVICE):
    return [b for b in available_backends(device) if b != "torch"]


def random_model(D, A, widths, activation="relu", skip="identity", dtype=torch.float64,
                 device="cpu", seed=0, scale=0.5):
    """A random MLPWorldModel; skip: 'identity', 'matrix' (random [D, D]) or 'zero'."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [D + A] + list(widths) + [D]
    weights = [torch.randn(i, o, generator=gen, dtype=torch.float64) * scale / i ** 0.5
               for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [torch.randn(o, generator=gen, dtype=torch.float64) * 0.1 for o in sizes[1:]]
    skip_matrix = {"identity": None, "zero": torch.zeros(D, D, dtype=torch.float64),
                   "matrix": torch.eye(D, dtype=torch.float64) + 0.1 * torch.randn(D, D, generator=gen, dtype=torch.float64)}[skip]
    move = lambda t: None if t is None else t.to(dtype=dtype, device=device)
    return wmk.MLPWorldModel([move(w) for w in weights], [move(b) for b in biases], activation, move(skip_matrix))


def random_problem(P, N, T, D, A, dtype=torch.float64, device="cpu", seed=1):
    """(z0 [P, D], actions [P, N, T, A], goal [P, D]) drawn from a fresh generator."""
    gen = torch.Generator().manual_seed(seed)
    z0 = torch.randn(P, D, generator=gen, dtype=torch.float64)
    actions = torch.randn(P, N, T, A, generator=gen, dtype=torch.float64) * 0.7
    goal = torch.randn(P, D, generator=gen, dtype=torch.float64)
    return tuple(t.to(dtype=dtype, device=device) for t in (z0, actions, goal))


def rel_err(out, ref):
    """||out - ref|| / ||ref|| in float64 (NaN anywhere gives NaN)."""
    out, ref = out.double().cpu(), ref.double().cpu()
    return float(torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref).clamp_min(1e-30))


def least_squares_plan(S_eff, B, z0, goal, w, q, lam):
    """Exact minimiser of sum_t w_t sum_d q_d (z_{t,d} - g_d)^2 + lam ||a||^2 for z' = z S + a B
    (one problem): returns (actions [T, A], cost)."""
    D, A, T = S_eff.shape[0], B.shape[0], w.numel()
    rows, targets = [], []
    power = [torch.matrix_power(S_eff, k) for k in range(T + 1)]
    for t in range(1, T + 1):
        free = z0 @ power[t]                                       # [D]
        G = torch.zeros(T * A, D, dtype=torch.float64)
        for k in range(t):
            G[k * A:(k + 1) * A] = B @ power[t - 1 - k]            # d z_t / d a_k
        scale = (w[t - 1] * q).sqrt()                              # [D]
        rows.append(G.t() * scale[:, None])
        targets.append((goal - free) * scale)
    rows.append(lam ** 0.5 * torch.eye(T * A, dtype=torch.float64))
    targets.append(torch.zeros(T * A, dtype=torch.float64))
    M, y = torch.cat(rows), torch.cat(targets)
    x = torch.linalg.lstsq(M, y[:, None]).solution[:, 0]
    return x.view(T, A), float(((M @ x - y) ** 2).sum())
