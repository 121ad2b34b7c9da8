"""World models for training, their normalisation, and export to ``wmkernels.MLPWorldModel``.

Units. The trainable modules work in *normalised* units: a state frame ``s`` [S] is
``(s - state_mean) / state_std``, a planner action ``a`` [kA] is
``(a - action_mean) / action_std``. With a frame history (``num_hist`` = H) the model's
state is the stack of the last H frames, oldest first, ``z = [s_{t-H+1}, ..., s_t]`` [H S].

Every module here has the interface the training layer (and OWM / AWM) relies on::

    forward(z [B, H S], a [B, kA]) -> z_next [B, H S]     (normalised units)

where ``z_next = [s_{t-H+2}, ..., s_{t+1}]``: the shifted history with the predicted frame
appended. Only the newest frame is learned; the rest is an exact shift.

``ResidualMLP`` predicts the frame's change, itself normalised by the dataset's change
statistics: ``s_{t+1} = s_t + delta_mean + delta_std * net(z, a)`` in raw units. ``export_mlp``
folds all of that into an ``MLPWorldModel`` working in raw units (raw state, raw planner
action -> raw next state), with the shift as the skip matrix S when H > 1.
``FrameTransformer`` is a second architecture (frames as tokens) for the generic path:
``RawUnits`` turns any such module into a raw-unit ``forward(z, a)`` for
``wmkernels.GradientPlanner(..., backend="torch", action_dim=...)``.
"""

from __future__ import annotations

import torch
from torch import nn

import wmkernels
from wmkernels import activations


class Normalizer(nn.Module):
    """Dataset statistics (buffers, saved with the model) and the maps raw <-> normalised."""

    def __init__(self, state_mean, state_std, action_mean, action_std, delta_mean, delta_std, num_hist: int = 1):
        super().__init__()
        for name, value in (("state_mean", state_mean), ("state_std", state_std), ("action_mean", action_mean),
                            ("action_std", action_std), ("delta_mean", delta_mean), ("delta_std", delta_std)):
            value = torch.as_tensor(value, dtype=torch.float32).detach().clone()
            if value.dim() != 1 or not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} must be a finite 1-d tensor, got shape {list(value.shape)}")
            if name.endswith("std") and bool((value <= 0).any()):
                raise ValueError(f"{name} must be positive")
            self.register_buffer(name, value)
        self.num_hist = int(num_hist)

    @property
    def frame_dim(self) -> int:
        return self.state_mean.numel()

    @property
    def action_dim(self) -> int:
        return self.action_mean.numel()

    def _stack(self, v):
        return v.repeat(self.num_hist)

    def state(self, z):
        """Raw stacked state [..., H S] (or frames [..., S]) -> normalised."""
        H = z.shape[-1] // self.frame_dim
        return (z - self.state_mean.repeat(H)) / self.state_std.repeat(H)

    def unstate(self, nz):
        H = nz.shape[-1] // self.frame_dim
        return nz * self.state_std.repeat(H) + self.state_mean.repeat(H)

    def action(self, a):
        return (a - self.action_mean) / self.action_std

    def unaction(self, na):
        return na * self.action_std + self.action_mean


def shift_matrix(frame_dim: int, num_hist: int, dtype=torch.float32) -> torch.Tensor:
    """S [H S, H S] (x @ S convention): block i of z S is block i+1 of z (i < H-1); the last
    block is carried unchanged (the residual of the newest frame)."""
    D = frame_dim * num_hist
    S = torch.zeros(D, D, dtype=dtype)
    for i in range(num_hist - 1):
        rows, cols = slice((i + 1) * frame_dim, (i + 2) * frame_dim), slice(i * frame_dim, (i + 1) * frame_dim)
        S[rows, cols] = torch.eye(frame_dim, dtype=dtype)
    last = slice((num_hist - 1) * frame_dim, num_hist * frame_dim)
    S[last, last] = torch.eye(frame_dim, dtype=dtype)
    return S


def _append_frame(nz, new_frame, frame_dim):
    """[s_{t-H+1}..s_t], s_{t+1} -> [s_{t-H+2}..s_{t+1}]."""
    return torch.cat([nz[..., frame_dim:], new_frame], dim=-1)


class ResidualMLP(nn.Module):
    """The MLPWorldModel architecture in normalised units (see the module docstring).

    ``out_scale`` = delta_std / state_std and ``out_bias`` = delta_mean / state_std (buffers) turn
    the network's output into the newest frame's normalised change.
    """

    def __init__(self, frame_dim: int, action_dim: int, num_hist: int = 1, widths=(256, 256),
                 activation: str = "relu", out_scale=None, out_bias=None):
        super().__init__()
        self.frame_dim, self.action_dim, self.num_hist = int(frame_dim), int(action_dim), int(num_hist)
        self.activation = activation
        sizes = [self.frame_dim * self.num_hist + self.action_dim] + list(widths)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), activations.module(activation)]
        layers.append(nn.Linear(sizes[-1], self.frame_dim))
        self.net = nn.Sequential(*layers)
        scale = torch.ones(frame_dim) if out_scale is None else torch.as_tensor(out_scale, dtype=torch.float32)
        bias = torch.zeros(frame_dim) if out_bias is None else torch.as_tensor(out_bias, dtype=torch.float32)
        self.register_buffer("out_scale", scale.clone())
        self.register_buffer("out_bias", bias.clone())

    def forward(self, z, a):
        delta = self.net(torch.cat([z, a], dim=-1)) * self.out_scale + self.out_bias
        return _append_frame(z, z[..., -self.frame_dim:] + delta, self.frame_dim)


class FrameTransformer(nn.Module):
    """A small transformer over the frame history: H frame tokens plus one action token
    (learned position embeddings, pre-norm encoder); the action token's output is read out as
    the newest frame's normalised change (same ``out_scale`` / ``out_bias`` as ResidualMLP)."""

    def __init__(self, frame_dim: int, action_dim: int, num_hist: int = 1, d_model: int = 64, heads: int = 4,
                 layers: int = 2, out_scale=None, out_bias=None):
        super().__init__()
        self.frame_dim, self.action_dim, self.num_hist = int(frame_dim), int(action_dim), int(num_hist)
        self.frame_in = nn.Linear(frame_dim, d_model)
        self.action_in = nn.Linear(action_dim, d_model)
        self.position = nn.Parameter(0.02 * torch.randn(num_hist + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, frame_dim)
        scale = torch.ones(frame_dim) if out_scale is None else torch.as_tensor(out_scale, dtype=torch.float32)
        bias = torch.zeros(frame_dim) if out_bias is None else torch.as_tensor(out_bias, dtype=torch.float32)
        self.register_buffer("out_scale", scale.clone())
        self.register_buffer("out_bias", bias.clone())

    def forward(self, z, a):
        lead = z.shape[:-1]
        frames = z.reshape(-1, self.num_hist, self.frame_dim)
        tokens = torch.cat([self.frame_in(frames), self.action_in(a.reshape(-1, 1, self.action_dim))], dim=1)
        out = self.norm(self.encoder(tokens + self.position))
        delta = self.head(out[:, -1]).reshape(*lead, self.frame_dim) * self.out_scale + self.out_bias
        return _append_frame(z, z[..., -self.frame_dim:] + delta, self.frame_dim)


class RawUnits(nn.Module):
    """``forward(z raw [B, H S], a raw [B, kA]) -> z_next raw``: any normalised-unit module wrapped
    with its Normalizer, e.g. for planning with ``backend="torch"``."""

    def __init__(self, module: nn.Module, normalizer: Normalizer):
        super().__init__()
        self.module = module
        self.normalizer = normalizer

    def forward(self, z, a):
        n = self.normalizer
        return n.unstate(self.module(n.state(z), n.action(a)))


@torch.no_grad()
def export_mlp(module: ResidualMLP, normalizer: Normalizer, dtype=torch.float32,
               metadata: dict | None = None) -> wmkernels.MLPWorldModel:
    """The ``MLPWorldModel`` in raw units computing ``RawUnits(module, normalizer)``, carrying
    ``metadata`` (``training.model_info``).

    Folding (x @ W convention; mu, sigma = the stacked input statistics)::

        W_1' = diag(1 / sigma) W_1,  b_1' = b_1 - (mu / sigma) W_1
        W_o' = [0 ... 0 | W_o diag(delta_std)],  b_o' = [0 ... 0 | b_o delta_std + delta_mean]
        S    = identity (H = 1) or the frame shift matrix (H > 1)

    The skip carries raw frames unchanged because every frame shares one mean and std.
    Folding is done in float64, then cast to ``dtype``.
    """
    if not isinstance(module, ResidualMLP):
        raise TypeError(f"export_mlp needs a ResidualMLP, got {type(module).__name__}; "
                        f"plan other architectures through RawUnits with backend='torch'")
    f64 = dict(dtype=torch.float64)
    S, H = module.frame_dim, module.num_hist
    n = normalizer
    mu = torch.cat([n.state_mean.repeat(H), n.action_mean]).to(**f64).cpu()
    sigma = torch.cat([n.state_std.repeat(H), n.action_std]).to(**f64).cpu()
    linears = [m for m in module.net if isinstance(m, nn.Linear)]
    weights = [l.weight.detach().t().to(**f64).cpu() for l in linears]
    biases = [l.bias.detach().to(**f64).cpu() for l in linears]
    w1, b1 = weights[0], biases[0]
    weights[0] = w1 / sigma[:, None]
    biases[0] = b1 - (mu / sigma) @ w1
    # output: raw change = (h W_o + b_o) * out_scale * state_std + out_bias * state_std
    out_scale = module.out_scale.to(**f64).cpu() * n.state_std.to(**f64).cpu()
    out_bias = module.out_bias.to(**f64).cpu() * n.state_std.to(**f64).cpu()
    wo = torch.zeros(weights[-1].shape[0], S * H, **f64)
    bo = torch.zeros(S * H, **f64)
    wo[:, -S:] = weights[-1] * out_scale
    bo[-S:] = biases[-1] * out_scale + out_bias
    weights[-1], biases[-1] = wo, bo
    skip = None if H == 1 else shift_matrix(S, H, torch.float64)
    model = wmkernels.MLPWorldModel(weights, biases, module.activation, skip, metadata)
    return model.to(dtype=dtype)


ARCHITECTURES = ("mlp", "transformer")


def build_model(arch: str, frame_dim: int, action_dim: int, num_hist: int, normalizer: Normalizer, *,
                widths=(256, 256), activation="relu", d_model=64, heads=4, layers=2) -> nn.Module:
    """A fresh world model in normalised units with the change statistics of ``normalizer``."""
    out_scale = normalizer.delta_std / normalizer.state_std
    out_bias = normalizer.delta_mean / normalizer.state_std
    if arch == "mlp":
        return ResidualMLP(frame_dim, action_dim, num_hist, widths, activation, out_scale, out_bias)
    if arch == "transformer":
        return FrameTransformer(frame_dim, action_dim, num_hist, d_model, heads, layers, out_scale, out_bias)
    raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
