"""Train-time data synthesis (docs/training.md): Adversarial World Modeling (AWM) and Online World
Modeling (OWM). Both work on any torch world model ``forward(z, a) -> z_next``.

AWM (``AdversarialPerturbation``)
    For a batch of model inputs (z, a) in the units the model sees, and the clean target:
    one radius per input part, eps = factor * r (state: ``state_factor``, action:
    ``action_factor``), where the trainer takes r = mean over the batch's rows of each row's
    std over that part's dims (``row_spread``), from every batch (``std="batch"``, the released
    code's "adaptive" radii) or from the first minibatch, then fixed (``std="first"``). FGSM
    with a random start: d ~ U[-eps, eps], one ascent step d += alpha sign(grad_d loss) with
    alpha = 1.25 eps, then d is clipped back to [-eps, eps]. ``steps`` > 1 gives PGD-k: k such
    steps of size alpha (default 2.5 eps / k), each projected. The target stays the clean next state;
    the caller updates on the perturbed batch only.

OWM (``OnlineWorldModeling``)
    For data windows (frames f_0..f_N, planner actions; the model sees H = num_hist frames):
    plan T = N - H + 1 actions with ``wmkernels.GradientPlanner`` (Adam lr 0.3, 100 steps,
    noise 0.003, random-normal init, objective "last") from the stacked start
    [f_0..f_{H-1}] toward the end frame f_N (state weights 1 / state_std^2 on the newest
    frame: the MSE in normalised units), using the current model in raw units; execute the
    plan in the simulator from f_{H-1} (``set_state`` + ``step``, frameskip applied); the
    corrected window keeps f_0..f_{H-1} and the data's first H-1 actions, then holds the
    planned actions and the states the simulator reached. Planners never read the env's
    success signal.

``ReplayCache`` holds corrected windows in buckets. The trainer corrects a whole batch every N
batches (``owm_every``) and files it in bucket i // N; batch i of this and every later epoch
does one extra update per entry in bucket i // N, so an entry serves the N batches after it
and their counterparts in every later epoch (the share of corrected data grows over epochs).
``capacity`` bounds a bucket (oldest entries go first).
"""

from __future__ import annotations

import numpy as np
import torch

import wmkernels


# ----------------------------------------------------------------------------- AWM
def row_spread(x: torch.Tensor) -> torch.Tensor:
    """Each row's spread [rows] of x [rows, dims]: its (unbiased) std over the dims; with one dim,
    |x| (x is in normalised units, so that is the distance from the data's mean)."""
    if x.shape[-1] == 1:
        return x[..., 0].abs()
    return x.std(dim=-1)


class AdversarialPerturbation:
    """FGSM with a random start (or PGD-k) on (state, action) inputs; see the module docstring."""

    def __init__(self, state_factor: float = 0.05, action_factor: float = 0.02, steps: int = 1,
                 alpha: float | None = None, std: str = "batch"):
        if state_factor < 0 or action_factor < 0:
            raise ValueError(f"state_factor and action_factor must be >= 0, got {state_factor}, {action_factor}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if std not in ("first", "batch"):
            raise ValueError(f"std must be 'first' or 'batch', got {std!r}")
        self.state_factor, self.action_factor = float(state_factor), float(action_factor)
        self.steps = int(steps)
        self.alpha = float(alpha) if alpha is not None else (1.25 if steps == 1 else 2.5 / steps)
        self.std_mode = std
        self.z_std = self.a_std = None

    def epsilons(self, z_std: torch.Tensor, a_std: torch.Tensor):
        """(eps_z, eps_a): factor x the radii of this batch's state and action parts (scalars, or
        one per dimension), fixed after the first batch with std='first'."""
        if self.std_mode == "batch" or self.z_std is None:
            self.z_std, self.a_std = z_std.detach().clone(), a_std.detach().clone()
        return self.state_factor * self.z_std, self.action_factor * self.a_std

    def state_dict(self):
        return {"z_std": self.z_std, "a_std": self.a_std}

    def load_state_dict(self, state):
        self.z_std, self.a_std = state.get("z_std"), state.get("a_std")

    def perturb(self, predict, z, a, target, eps_z, eps_a, start_z, start_a):
        """Perturbed inputs (z + d_z, a + d_a), |d| <= eps elementwise.

        predict(z, a) -> the prediction compared with ``target`` (MSE); start_z, start_a: the
        random start as draws from U[-1, 1] with z's and a's shapes (scaled by eps here), so a
        caller can draw them from its own generator (e.g. the same global draw on every rank).
        """
        d_z = (start_z * eps_z).detach()
        d_a = (start_a * eps_a).detach()
        for _ in range(self.steps):
            d_z.requires_grad_(True)
            d_a.requires_grad_(True)
            loss = torch.nn.functional.mse_loss(predict(z + d_z, a + d_a), target, reduction="sum")
            g_z, g_a = torch.autograd.grad(loss, (d_z, d_a))
            with torch.no_grad():
                d_z = torch.maximum(torch.minimum(d_z + self.alpha * eps_z * g_z.sign(), eps_z), -eps_z)
                d_a = torch.maximum(torch.minimum(d_a + self.alpha * eps_a * g_a.sign(), eps_a), -eps_a)
        return (z + d_z).detach(), (a + d_a).detach()


# ----------------------------------------------------------------------------- OWM
class OnlineWorldModeling:
    """Corrects data windows with plans executed in the simulator; see the module docstring.

    env: a ``training.envs.Env`` whose frameskip matches the data; num_hist: H;
    state_std [S]: the frame std used as the planning cost's weights.
    """

    def __init__(self, env, num_hist: int, state_std, iters: int = 100, lr: float = 0.3,
                 noise: float = 0.003, init_std: float = 1.0, backend: str = "auto"):
        self.env = env
        self.num_hist = int(num_hist)
        self.state_std = torch.as_tensor(state_std, dtype=torch.float32).detach().cpu()
        self.iters, self.lr, self.noise, self.init_std = int(iters), float(lr), float(noise), float(init_std)
        self.backend = backend
        self.dropped = 0
        k = env.frameskip
        self.lo = torch.as_tensor(np.tile(env.action_low, k), dtype=torch.float32)
        self.hi = torch.as_tensor(np.tile(env.action_high, k), dtype=torch.float32)

    def objective(self) -> wmkernels.Objective:
        S, H = self.state_std.numel(), self.num_hist
        q = torch.cat([torch.zeros((H - 1) * S), 1.0 / self.state_std.double() ** 2])
        return wmkernels.Objective(mode="last", q=q, lo=self.lo.double(), hi=self.hi.double())

    def plan(self, model, frames: torch.Tensor, seed: int, action_dim: int | None = None):
        """Planned actions [B, T, kA] (raw units) for raw frames [B, N+1, S]; model is an
        ``MLPWorldModel`` or a raw-unit torch module (then ``action_dim`` is needed and
        the torch backend is used)."""
        B, N1, S = frames.shape
        H = self.num_hist
        T = N1 - H
        if T < 1:
            raise ValueError(f"a window needs more than num_hist={H} frames to plan over, got {N1}")
        device = model.device if isinstance(model, wmkernels.MLPWorldModel) else next(model.parameters()).device
        z0 = frames[:, :H].reshape(B, H * S).float().to(device)
        goal = torch.zeros(B, H * S, device=device)
        goal[:, -S:] = frames[:, -1].to(device)
        backend = self.backend
        if not isinstance(model, wmkernels.MLPWorldModel):
            backend = "torch"
            if action_dim is None:
                raise ValueError("action_dim is required to plan with a model that is not an MLPWorldModel")
        planner = wmkernels.GradientPlanner(model, horizon=T, objective=self.objective(), iters=self.iters,
                                            lr=self.lr, samples=1, optimizer="adam", noise=self.noise,
                                            seed=int(seed) % 2**32, backend=backend, init_std=self.init_std,
                                            action_dim=action_dim)
        return planner.plan(z0, goal).actions.detach().cpu()

    def execute(self, frames: torch.Tensor, actions: torch.Tensor, planned: torch.Tensor):
        """Corrected windows: (frames [B', N+1, S], actions [B', N, kA]) raw float32, where the
        last T frames are the simulator's states under ``planned`` [B, T, kA] from frame H-1.

        A window whose start state the env refuses (``set_state`` raises ValueError: some
        recorded states leave the env's valid region, e.g. a PushT block pushed out of the
        arena) is dropped, so B' <= B; ``self.dropped`` counts them."""
        B, N1, S = frames.shape
        H, T = self.num_hist, planned.shape[1]
        out_frames = frames.detach().cpu().double().numpy().copy()
        keep = []
        for b in range(B):
            try:
                self.env.set_state(out_frames[b, H - 1])
            except ValueError:
                self.dropped += 1
                continue
            keep.append(b)
            for t in range(T):
                out_frames[b, H + t] = self.env.step(planned[b, t].double().numpy())
        out_actions = actions.detach().cpu().clone()
        out_actions[:, H - 1:] = planned.to(actions.dtype)
        keep = torch.tensor(keep, dtype=torch.long)
        return torch.from_numpy(out_frames).float()[keep], out_actions[keep]

    def correct(self, model, frames, actions, seed: int, action_dim: int | None = None):
        """plan + execute: corrected (frames, actions) for raw data windows."""
        planned = self.plan(model, frames, seed, action_dim)
        return self.execute(frames, actions, planned)


class ReplayCache:
    """Corrected windows in buckets keyed by the batch index within an epoch (see the module
    docstring). Entries are dicts of tensors, so the cache goes into a checkpoint as is."""

    def __init__(self, capacity: int | None = None):
        self.capacity = capacity
        self.buckets: dict[int, list] = {}

    def add(self, bucket: int, frames: torch.Tensor, actions: torch.Tensor) -> None:
        entries = self.buckets.setdefault(int(bucket), [])
        entries.append({"frames": frames.detach().cpu(), "actions": actions.detach().cpu()})
        if self.capacity is not None and len(entries) > self.capacity:
            del entries[0]

    def entries(self, bucket: int) -> list:
        return list(self.buckets.get(int(bucket), []))

    def __len__(self):
        return sum(len(v) for v in self.buckets.values())

    def state_dict(self) -> dict:
        return {str(k): list(v) for k, v in self.buckets.items()}

    def load_state_dict(self, state: dict) -> None:
        self.buckets = {int(k): list(v) for k, v in state.items()}
