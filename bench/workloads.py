"""The standard benchmark workloads (docs/benchmarks.md), named so results compare across runs."""
from dataclasses import dataclass

import torch

import wmkernels as wmk


@dataclass(frozen=True)
class Workload:
    name: str
    planner: str            # "gbp", "cem" or "mppi"
    D: int
    A: int
    widths: tuple
    T: int
    iters: int
    P: int
    N: int                  # candidates per problem (GBP) or samples (CEM / MPPI)
    elites: int = 0
    activation: str = "relu"
    lr: float = 0.2
    noise: float = 0.003
    temperature: float = 0.5

    @property
    def layers(self) -> int:
        """Matmul layers per step (hidden layers plus the output layer)."""
        return len(self.widths) + 1

    def step_flops(self) -> int:
        """FLOPs of one forward model step for one candidate (multiply-adds count 2)."""
        sizes = [self.D + self.A, *self.widths, self.D]
        return sum(2 * i * o for i, o in zip(sizes[:-1], sizes[1:]))

    def flops(self) -> int:
        """FLOPs of the whole plan: GBP runs forward + input-gradient backward (about 2x forward)."""
        passes = 2 if self.planner == "gbp" else 1
        return self.iters * self.P * self.N * self.T * self.step_flops() * passes

    def chain(self) -> int:
        """Length of the dependent chain of matmuls: iters x horizon x layers (x 2 for GBP)."""
        return self.iters * self.T * self.layers * (2 if self.planner == "gbp" else 1)


WORKLOADS = {w.name: w for w in [
    Workload("paper-gbp", "gbp", D=16, A=10, widths=(256, 256), T=5, iters=100, P=50, N=1),
    Workload("paper-cem", "cem", D=16, A=10, widths=(256, 256), T=5, iters=30, P=50, N=300, elites=30),
    Workload("tdmpc-mppi", "mppi", D=512, A=6, widths=(512, 512), T=3, iters=6, P=1, N=512, elites=64),
    Workload("wide-batch", "gbp", D=64, A=8, widths=(256, 256), T=16, iters=50, P=1024, N=16),
]}


def make_problem(w: Workload, device, seed: int = 0):
    """(model, z0 [P, D], goal [P, D], objective) with a random model of the workload's shape."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [w.D + w.A, *w.widths, w.D]
    weights = [torch.randn(i, o, generator=gen) / i ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    weights[-1] *= 0.2
    biases = [0.05 * torch.randn(o, generator=gen) for o in sizes[1:]]
    model = wmk.MLPWorldModel(weights, biases, w.activation).to(device=device)
    z0 = torch.randn(w.P, w.D, generator=gen).to(device)
    goal = torch.randn(w.P, w.D, generator=gen).to(device)
    objective = wmk.Objective("all", base=0.5, lo=-1.0, hi=1.0)
    return model, z0, goal, objective
