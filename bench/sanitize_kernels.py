"""Launches every CUDA and Triton kernel once, on small odd sizes, for compute-sanitizer
(memcheck, racecheck, synccheck: bench/gpu_suite.sh with SANITIZE=1).

    compute-sanitizer --tool memcheck --error-exitcode 1 python bench/sanitize_kernels.py

Per backend (cuda, triton; --backends): rollout (cost, with states, with gradients), adam_step
(with and without noise), gbp_plan (Adam with noise, SGD without), cem_plan and mppi_plan;
Triton's sampling plans on both paths (one launch per plan, and a launch per iteration); each
at a narrow and a wide model (the CUDA kernels' two tile sizes), with an identity and a matrix
skip. Runs anywhere for a dry check (--device cpu: Triton interpreted, the cpp backend in
place of cuda).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The dry check on the CPU interprets Triton, which must be chosen before triton is imported.
if sys.argv[sys.argv.index("--device") + 1:][:1] == ["cpu"] if "--device" in sys.argv else False:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402

import wmkernels as wmk  # noqa: E402


def model_of(D, A, widths, skip, device, seed):
    gen = torch.Generator().manual_seed(seed)
    sizes = [D + A] + list(widths) + [D]
    weights = [torch.randn(i, o, generator=gen) * 0.5 / i ** 0.5 for i, o in zip(sizes, sizes[1:])]
    biases = [0.1 * torch.randn(o, generator=gen) for o in sizes[1:]]
    S = None if skip == "identity" else torch.eye(D) + 0.1 * torch.randn(D, D, generator=gen)
    move = lambda t: None if t is None else t.to(device)  # noqa: E731
    return wmk.MLPWorldModel([move(w) for w in weights], [move(b) for b in biases], "silu", move(S))


def launch_all(backend, device):
    """Every op once per model; returns the number of op calls."""
    calls = 0
    obj = wmk.Objective(mode="all", base=0.8, action_penalty=0.01, lo=-0.9, hi=0.8)
    for D, A, widths, skip in ((5, 3, (19, 13), "identity"), (17, 6, (70, 130), "matrix")):
        model = model_of(D, A, widths, skip, device, seed=D)
        P, N, T = 3, 5, 4
        gen = torch.Generator().manual_seed(1)
        z0, goal = (torch.randn(P, D, generator=gen).to(device) for _ in range(2))
        actions = (0.5 * torch.randn(P, N, T, A, generator=gen)).to(device)
        wmk.ops.rollout(model, z0, actions, goal, obj, backend=backend)
        wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True, backend=backend)
        wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
        for noise in (None, 0.01 * torch.ones_like(actions)):
            a, m, v = actions.clone(), torch.zeros_like(actions), torch.zeros_like(actions)
            wmk.ops.adam_step(a, actions, m, v, 1, 0.1, lo=-0.9, hi=0.8, noise=noise, backend=backend)
        wmk.ops.gbp_plan(model, z0, goal, obj, actions, 3, 0.1, "adam", noise=0.01, seed=2, backend=backend)
        wmk.ops.gbp_plan(model, z0, goal, obj, actions, 2, 0.1, "sgd", noise=0.0, seed=2, backend=backend)
        mean, std = actions[:, 0].clone(), torch.full_like(actions[:, 0], 0.5)
        paths = (1, 10**9) if backend == "triton" else (None,)
        for fused_from in paths:
            if fused_from is not None:
                from wmkernels.ops.sampling import triton as sampling_triton
                sampling_triton.FUSED_MIN_PROBLEMS = fused_from
            wmk.ops.cem_plan(model, z0, goal, obj, mean, std, 37, 6, 2, 0.2, seed=3, backend=backend)
            wmk.ops.mppi_plan(model, z0, goal, obj, mean, std, 37, 2, 0.5, 0.2, seed=3, backend=backend)
        calls += 11 + 2 * len(paths)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--backends", default=None, help="comma-separated (default: cuda,triton on a GPU)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    default = "cuda,triton" if device.type == "cuda" else "cpp,triton"
    for backend in (args.backends or default).split(","):
        start = time.perf_counter()
        calls = launch_all(backend, device)
        print(f"{backend}: {calls} op calls in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
