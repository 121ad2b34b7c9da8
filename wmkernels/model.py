"""MLPWorldModel: the residual MLP world model every fused kernel understands.

    x_t     = concat(z_t, a_t)                  # [D + A]
    h_1     = act(x_t W_1 + b_1)                # W_l [H_{l-1}, H_l], L = 1..4 hidden layers
    h_l     = act(h_{l-1} W_l + b_l)
    z_{t+1} = z_t S + h_L W_o + b_o             # S: identity (skip=None), or any [D, D]
"""
import torch

from . import activations, model_file
from .model_file import ModelFileError

MAX_HIDDEN_LAYERS = 4


class WorldModelModule(torch.nn.Module):
    """torch.nn form of an MLPWorldModel: forward(z [B, D], a [B, A]) -> z_next [B, D]."""

    def __init__(self, net: torch.nn.Sequential, skip):
        super().__init__()
        self.net = net
        if skip is None:
            self.skip = None
        else:
            self.register_buffer("skip", skip)

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        carried = z if self.skip is None else z @ self.skip
        return carried + self.net(torch.cat([z, a], dim=-1))


class MLPWorldModel:
    """Weights of a residual MLP world model (x @ W convention).

    weights: [W_1 [D+A, H_1], ..., W_L [H_{L-1}, H_L], W_o [H_L, D]]; biases match.
    skip: None (identity, residual), or a [D, D] tensor (zeros for no skip).
    metadata: a dict of str -> JSON values saved with the model (see model_file.check_metadata).
    """

    def __init__(self, weights, biases, activation: str = "relu", skip=None, metadata=None):
        weights, biases = list(weights), list(biases)
        _check_structure(weights, biases, activation, skip)
        for name, t in _named_params(weights, biases, skip):
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or Inf")
        self.weights = [w.contiguous() for w in weights]
        self.biases = [b.contiguous() for b in biases]
        self.activation = activation
        self.skip = None if skip is None else skip.contiguous()
        self.metadata = {} if metadata is None else model_file.check_metadata(metadata)

    def validate(self) -> "MLPWorldModel":
        """Check the structure again (types, ranks, shapes, dtypes, devices, activation; reads no
        values): a weight replaced after construction must still fit. Every op calls this."""
        if not isinstance(self.weights, list) or not isinstance(self.biases, list):
            raise TypeError("model.weights and model.biases must be lists of tensors")
        _check_structure(self.weights, self.biases, self.activation, self.skip, "model.")
        return self

    # shapes -----------------------------------------------------------------
    @property
    def state_dim(self) -> int:
        return self.weights[-1].shape[1]

    @property
    def action_dim(self) -> int:
        return self.weights[0].shape[0] - self.state_dim

    @property
    def widths(self) -> list:
        return [w.shape[1] for w in self.weights[:-1]]

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def __repr__(self):
        skip = "identity" if self.skip is None else "matrix"
        return (f"MLPWorldModel(D={self.state_dim}, A={self.action_dim}, widths={self.widths}, "
                f"activation={self.activation!r}, skip={skip}, dtype={self.dtype}, device={self.device})")

    # evaluation -------------------------------------------------------------
    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """One transition: z [..., D], a [..., A] -> z_next [..., D]."""
        h = torch.cat([z, a], dim=-1)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = activations.apply(self.activation, h @ w + b)
        carried = z if self.skip is None else z @ self.skip
        return carried + h @ self.weights[-1] + self.biases[-1]

    __call__ = step

    def to(self, device=None, dtype=None) -> "MLPWorldModel":
        """A copy on `device` in `dtype`; like torch, model.to(torch.float32) is a dtype."""
        if isinstance(device, torch.dtype):
            if dtype is not None:
                raise TypeError("to() got two dtypes: pass model.to(device, dtype)")
            device, dtype = None, device
        move = lambda t: t.to(device=device, dtype=dtype)
        return MLPWorldModel([move(w) for w in self.weights], [move(b) for b in self.biases],
                             self.activation, None if self.skip is None else move(self.skip), self.metadata)

    # conversion -------------------------------------------------------------
    @classmethod
    def from_module(cls, module: torch.nn.Module, skip=None) -> "MLPWorldModel":
        """From an nn.Sequential of Linear and activation layers (Linear, act, ..., Linear)
        mapping concat(z, a) to the residual update, or from a WorldModelModule."""
        if isinstance(module, WorldModelModule):
            if skip is not None:
                raise ValueError("skip is taken from the WorldModelModule; do not pass it as well")
            skip = module.skip
            module = module.net
        if not isinstance(module, torch.nn.Sequential):
            raise TypeError(f"module must be an nn.Sequential or a WorldModelModule, got {type(module).__name__}")
        layers = list(module)
        linears = layers[0::2]
        acts = layers[1::2]
        if len(layers) % 2 == 0 or not all(isinstance(l, torch.nn.Linear) for l in linears):
            raise ValueError("module must alternate Linear and activation layers, starting and ending with Linear")
        names = {activations.name_of(a) for a in acts}
        if None in names or len(names) != 1:
            raise ValueError(f"module must use one activation of {activations.NAMES} throughout, "
                             f"got {[type(a).__name__ for a in acts]}")
        weights = [l.weight.detach().t().contiguous() for l in linears]
        biases = [l.bias.detach().clone() if l.bias is not None
                  else torch.zeros(l.out_features, dtype=l.weight.dtype, device=l.weight.device)
                  for l in linears]
        return cls(weights, biases, names.pop(), None if skip is None else skip.detach().clone())

    def to_module(self) -> WorldModelModule:
        """A WorldModelModule computing the same function (for autograd or training)."""
        layers = []
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            linear = torch.nn.Linear(w.shape[0], w.shape[1], device=self.device, dtype=self.dtype)
            with torch.no_grad():
                linear.weight.copy_(w.t())
                linear.bias.copy_(b)
            layers.append(linear)
            if l < len(self.weights) - 1:
                layers.append(activations.module(self.activation))
        return WorldModelModule(torch.nn.Sequential(*layers),
                                None if self.skip is None else self.skip.clone())

    # files ------------------------------------------------------------------
    def _named_tensors(self):
        named = [(f"weights.{l}", w) for l, w in enumerate(self.weights)]
        named += [(f"biases.{l}", b) for l, b in enumerate(self.biases)]
        if self.skip is not None:
            named.append(("skip", self.skip))
        return named

    def save(self, path) -> None:
        """Write the model and its metadata to path (a path or a binary file object) in the
        version 2 model file format (see wmkernels.model_file)."""
        model_file.write(path, self.activation, self._named_tensors(), self.metadata)

    @classmethod
    def load(cls, path, device=None, *, max_bytes: int = model_file.DEFAULT_MAX_BYTES) -> "MLPWorldModel":
        """Read a model file of version 1 or 2 (a path or a binary file object) of at most
        max_bytes bytes; raises ModelFileError on anything else. Tensors go to device."""
        contents = model_file.read(path, max_bytes=max_bytes)
        move = lambda t: None if t is None else t.to(device)
        try:
            return cls([move(w) for w in contents.weights], [move(b) for b in contents.biases],
                       contents.activation, move(contents.skip), contents.metadata)
        except (ValueError, TypeError) as err:
            raise ModelFileError(f"{contents.name} holds an invalid model: {err}") from err


def linear_world_model(S: torch.Tensor, B: torch.Tensor, offset: float = 10.0) -> MLPWorldModel:
    """The linear system z' = z S + a B (S [D, D], B [A, D]) as a one-layer ReLU MLPWorldModel.

    W_1 = I, b_1 = offset: the hidden pre-activations x + offset stay positive, so ReLU is the
    identity, while every |x_i| < offset; W_o = [S - I; B] and b_o = -offset * 1 W_o cancel
    the offset. Useful for checking planners against closed-form optima (LQR, least squares)."""
    _check_param("S", S, 2, S, "S")
    _check_param("B", B, 2, S, "S")
    for name, t in (("S", S), ("B", B)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or Inf")
    D, A = S.shape[0], B.shape[0]
    if tuple(S.shape) != (D, D) or B.shape[1] != D:
        raise ValueError(f"S must be [D, D] and B [A, D], got {list(S.shape)} and {list(B.shape)}")
    opts = dict(dtype=S.dtype, device=S.device)
    w_out = torch.cat([S - torch.eye(D, **opts), B], dim=0)
    return MLPWorldModel([torch.eye(D + A, **opts), w_out],
                         [torch.full((D + A,), float(offset), **opts), -offset * w_out.sum(0)], "relu")


def _named_params(weights, biases, skip, prefix=""):
    named = [(f"{prefix}weights[{l}]", w) for l, w in enumerate(weights)]
    named += [(f"{prefix}biases[{l}]", b) for l, b in enumerate(biases)]
    return named + ([] if skip is None else [(f"{prefix}skip", skip)])


def _check_structure(weights, biases, activation, skip, prefix=""):
    """The checks of MLPWorldModel that read no tensor values; errors name the tensor."""
    if not 2 <= len(weights) <= MAX_HIDDEN_LAYERS + 1:
        raise ValueError(f"{prefix}weights must hold 2 to {MAX_HIDDEN_LAYERS + 1} matrices "
                         f"(1-{MAX_HIDDEN_LAYERS} hidden layers and the output), got {len(weights)}")
    if len(biases) != len(weights):
        raise ValueError(f"{prefix}biases must hold one vector per weight matrix ({len(weights)}), got {len(biases)}")
    if activation not in activations.NAMES:
        raise ValueError(f"{prefix}activation must be one of {activations.NAMES}, got {activation!r}")
    first = weights[0]
    for l, (w, b) in enumerate(zip(weights, biases)):
        _check_param(f"{prefix}weights[{l}]", w, 2, first, f"{prefix}weights[0]")
        _check_param(f"{prefix}biases[{l}]", b, 1, first, f"{prefix}weights[0]")
        if b.shape[0] != w.shape[1]:
            raise ValueError(f"{prefix}biases[{l}] must have shape [{w.shape[1]}], got {list(b.shape)}")
        if l > 0 and w.shape[0] != weights[l - 1].shape[1]:
            raise ValueError(f"{prefix}weights[{l}] must have {weights[l - 1].shape[1]} rows "
                             f"(the width of layer {l - 1}), got {list(w.shape)}")
    D = weights[-1].shape[1]
    if first.shape[0] - D < 1:
        raise ValueError(f"{prefix}weights[0] has {first.shape[0]} rows but the state has {D} dimensions: "
                         f"weights[0] must be [D + A, H_1] with A >= 1")
    if skip is not None:
        _check_param(f"{prefix}skip", skip, 2, first, f"{prefix}weights[0]")
        if tuple(skip.shape) != (D, D):
            raise ValueError(f"{prefix}skip must have shape [{D}, {D}], got {list(skip.shape)}")


def _check_param(name: str, t, ndim: int, like, like_name: str = "weights[0]") -> None:
    """Type, rank, size, dtype and device of one parameter (no values are read)."""
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got "
                        f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")
    if t.is_meta:
        raise ValueError(f"{name} is on the meta device, which holds no values: "
                         f"build the model from tensors on a real device")
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {list(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {list(t.shape)}")
    if t.dtype != like.dtype or t.device != like.device:
        raise ValueError(f"{name} is {t.dtype} on {t.device}, but {like_name} is {like.dtype} on {like.device}")
