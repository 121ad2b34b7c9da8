"""An independent float64 reference of the ops, in NumPy, written from docs/maths.md and
docs/random.md (it shares no code with wmkernels): rollout, rollout_grad, gbp_plan, cem_plan,
mppi_plan. The differential fuzzer (fuzz_ops.py) compares every backend with it.

A model is a dict: weights [W_1 .. W_L, W_o] (W_l [in, out]), biases, activation, skip ([D, D] or
None for the identity). An objective is a dict: w [T], q [D], lam, lo [A], hi [A]. Shapes as in
docs/maths.md: z0, goal [P, D]; actions [P, N, T, A].
"""
import math

import numpy as np

# ---- activations and their derivatives (docs/maths.md, "The world model") ------------------
_C = math.sqrt(2.0 / math.pi)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def activation(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "silu":
        return x * _sigmoid(x)
    if name == "gelu":
        return 0.5 * x * (1.0 + np.tanh(_C * (x + 0.044715 * x ** 3)))
    if name == "tanh":
        return np.tanh(x)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    raise ValueError(name)


def derivative(name, x):
    if name == "relu":
        return (x > 0).astype(np.float64)
    if name == "silu":
        s = _sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if name == "gelu":
        th = np.tanh(_C * (x + 0.044715 * x ** 3))
        return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th ** 2) * _C * (1.0 + 3 * 0.044715 * x ** 2)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name == "elu":
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))
    raise ValueError(name)


# ---- rollout and its gradient ----------------------------------------------------------------
def _forward(model, z0, actions):
    """States [P, N, T+1, D] and the pre-activations of every step (lists over t, then l)."""
    P, N, T, _ = actions.shape
    z = np.broadcast_to(z0[:, None, :], (P, N, z0.shape[1]))
    states, pres = [z], []
    for t in range(T):
        h = np.concatenate([z, actions[:, :, t]], axis=-1)
        step_pres = []
        for W, b in zip(model["weights"][:-1], model["biases"][:-1]):
            pre = h @ W + b
            step_pres.append(pre)
            h = activation(model["activation"], pre)
        carried = z if model["skip"] is None else z @ model["skip"]
        z = carried + h @ model["weights"][-1] + model["biases"][-1]
        states.append(z)
        pres.append(step_pres)
    return np.stack(states, axis=2), pres


def cost_of(states, actions, goal, obj):
    err = states[:, :, 1:, :] - goal[:, None, None, :]
    goal_term = ((err ** 2) * obj["q"]).sum(-1)                      # [P, N, T]
    return (goal_term * obj["w"]).sum(-1) + obj["lam"] * (actions ** 2).sum((-1, -2))


def rollout(model, z0, actions, goal, obj):
    """(cost [P, N], states [P, N, T+1, D])."""
    states, _ = _forward(model, z0, actions)
    return cost_of(states, actions, goal, obj), states


def rollout_grad(model, z0, actions, goal, obj):
    """(cost [P, N], dC/dactions [P, N, T, A]) by backpropagation through time."""
    states, pres = _forward(model, z0, actions)
    cost = cost_of(states, actions, goal, obj)
    P, N, T, A = actions.shape
    D = z0.shape[1]
    W = model["weights"]
    L = len(W) - 1
    grad = np.empty_like(actions)
    zeta = 2.0 * obj["w"][T - 1] * obj["q"] * (states[:, :, T] - goal[:, None, :])
    for t in range(T - 1, -1, -1):
        delta = (zeta @ W[L].T) * derivative(model["activation"], pres[t][L - 1])
        for l in range(L - 1, 0, -1):
            delta = (delta @ W[l].T) * derivative(model["activation"], pres[t][l - 1])
        xi = delta @ W[0].T
        grad[:, :, t] = xi[..., D:] + 2.0 * obj["lam"] * actions[:, :, t]
        carried = zeta if model["skip"] is None else zeta @ model["skip"].T
        zeta = carried + xi[..., :D]
        if t >= 1:
            zeta = zeta + 2.0 * obj["w"][t - 1] * obj["q"] * (states[:, :, t] - goal[:, None, :])
    return cost, grad


# ---- random draws (docs/random.md) -------------------------------------------------------------
_M32 = np.uint64(0xFFFFFFFF)


def _philox(c, k0, k1):
    """Philox4x32-10 on counters c [4, M] (uint64 holding uint32) with key (k0, k1)."""
    c0, c1, c2, c3 = (x.astype(np.uint64) for x in c)
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        pb = c2 * np.uint64(0xCD9E8D57)
        pa = c0 * np.uint64(0xD2511F53)
        c0, c1, c2, c3 = ((pb >> np.uint64(32)) ^ c1 ^ k0, pb & _M32, (pa >> np.uint64(32)) ^ c3 ^ k1, pa & _M32)
        k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
    return c0, c1


def _unit(x):
    s = x.astype(np.int64)
    s = np.where(s >= 2 ** 31, s - 2 ** 32, s)
    s = np.where(s < 0, -s - 1, s)
    return s.astype(np.float32) * np.float32(4.6566127342e-10)


def _cos_2pi(u):
    k = np.floor(u * 4.0 + 0.5)
    theta = (u - 0.25 * k) * 6.283185307179586
    t2 = theta * theta
    c = np.full_like(t2, 1.0 / math.factorial(16))
    s = np.full_like(t2, 1.0 / math.factorial(17))
    for j in range(7, -1, -1):
        c = c * t2 + (-1) ** j / math.factorial(2 * j)
        s = s * t2 + (-1) ** j / math.factorial(2 * j + 1)
    s = theta * s
    q = k.astype(np.int64) % 4
    return np.select([q == 0, q == 1, q == 2], [c, -s, -c], s)


def normal(seed, stream, step, P, N, T, A):
    """Standard normal draws [P, N, T, A] at counters (t*A + j, n, p, step), key (seed, stream)."""
    p, n, i = np.meshgrid(np.arange(P), np.arange(N), np.arange(T * A), indexing="ij")
    c = np.stack([i.ravel(), n.ravel(), p.ravel(), np.full(p.size, step)]).astype(np.uint64)
    x0, x1 = _philox(c, seed, stream)
    u1 = np.maximum(_unit(x0), np.float32(1e-7)).astype(np.float64)
    u2 = _unit(x1).astype(np.float64)
    z = (np.sqrt(-2.0 * np.log(u1)) * _cos_2pi(u2)).astype(np.float32)
    return z.astype(np.float64).reshape(P, N, T, A)


STREAM_NOISE, STREAM_SAMPLE = 1, 2


# ---- planners ----------------------------------------------------------------------------------
def gbp_plan(model, z0, goal, obj, init, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    """(actions [P, T, A], cost [P], history [P, iters]) of docs/maths.md, "Whole gradient-based plans"."""
    a = init.copy()
    P, N, T, A = a.shape
    m, v = np.zeros_like(a), np.zeros_like(a)
    history = np.empty((P, iters))
    for k in range(iters):
        c, g = rollout_grad(model, z0, a, goal, obj)
        history[:, k] = c.min(axis=1)
        if optimizer == "adam":
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            a = a - lr * (m / (1 - beta1 ** (k + 1))) / (np.sqrt(v / (1 - beta2 ** (k + 1))) + eps)
        else:
            a = a - lr * g
        if noise > 0:
            a = a + noise * normal(seed, STREAM_NOISE, k, P, N, T, A)
        a = np.clip(a, obj["lo"], obj["hi"])
    final, _ = rollout(model, z0, a, goal, obj)
    best = final.argmin(axis=1)
    rows = np.arange(P)
    return a[rows, best], final[rows, best], history


def _samples(mean, std, samples, k, seed, obj):
    P, T, A = mean.shape
    eps = normal(seed, STREAM_SAMPLE, k, P, samples, T, A)
    eps[:, 0] = 0.0
    return np.clip(mean[:, None] + std[:, None] * eps, obj["lo"], obj["hi"])


def cem_plan(model, z0, goal, obj, mean, std, samples, elites, iters, momentum, seed):
    """(mean [P, T, A], C(mean) [P], history [P, iters]); elite ties go to the lower index."""
    mean, std = mean.copy(), std.copy()
    P = mean.shape[0]
    history = np.empty((P, iters))
    for k in range(iters):
        a = _samples(mean, std, samples, k, seed, obj)
        c, _ = rollout(model, z0, a, goal, obj)
        order = np.argsort(c, axis=1, kind="stable")[:, :elites]
        elite = np.take_along_axis(a, order[:, :, None, None], axis=1)
        history[:, k] = np.take_along_axis(c, order, axis=1).mean(axis=1)
        mu = elite.mean(axis=1)
        sd = np.sqrt(((elite - mu[:, None]) ** 2).mean(axis=1))
        mean = np.clip(momentum * mean + (1 - momentum) * mu, obj["lo"], obj["hi"])
        std = momentum * std + (1 - momentum) * sd
    final, _ = rollout(model, z0, mean[:, None], goal, obj)
    return mean, final[:, 0], history


def mppi_plan(model, z0, goal, obj, mean, std, samples, iters, temperature, momentum, seed):
    """(mean [P, T, A], C(mean) [P], softmax-weighted cost history [P, iters])."""
    mean = mean.copy()
    P = mean.shape[0]
    history = np.empty((P, iters))
    for k in range(iters):
        a = _samples(mean, std, samples, k, seed, obj)
        c, _ = rollout(model, z0, a, goal, obj)
        e = np.exp(-(c - c.min(axis=1, keepdims=True)) / temperature)
        omega = e / e.sum(axis=1, keepdims=True)
        history[:, k] = (omega * c).sum(axis=1)
        mean = np.clip(momentum * mean + (1 - momentum) * (omega[:, :, None, None] * a).sum(axis=1),
                       obj["lo"], obj["hi"])
    final, _ = rollout(model, z0, mean[:, None], goal, obj)
    return mean, final[:, 0], history
