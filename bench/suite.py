"""Plan-level benchmark: every provider on the standard workloads, side by side in one process.

    python -m bench.suite --device cpu --workloads paper-gbp,paper-cem --providers eager,torch,cpp
    python -m bench.suite --device cuda --out "$OUT"          # every workload and provider there

Before timing, every provider runs once with the shared random draws and must return the same
plan as the reference provider (`torch`, wmkernels' plain ops) up to float32 rounding; then
each is timed with its own random numbers (GPU: triton.testing.do_bench median; CPU: median of
--repeats rounds that time every provider in turn). After each workload, its rows append to
<out>/results.csv and <out>/<device>.md is rewritten with the table so far (ratios against
eager torch and torch.compile, distance from the floors), so a run cut short keeps what it
measured; a plot goes to <out>/<device>.png at the end where matplotlib is installed.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import wmkernels as wmk
from wmkernels import _backend

from . import report
from .providers import FUSED, make_runner
from .workloads import WORKLOADS, make_problem

PROVIDERS = ("eager", "compile", "torch", "triton", "cuda", "cpp")


def provider_reason(provider: str, device: torch.device, compile_on_cpu: bool):
    """None if the provider can run on device, else why not."""
    if provider in FUSED:
        return _backend.unavailable_reason(provider, device)
    if provider == "compile" and device.type == "cpu" and not compile_on_cpu:
        return "torch.compile is benchmarked on GPU (pass --compile-on-cpu to include it)"
    return None


def time_ms(runners: dict, device: torch.device, repeats: int) -> dict:
    """{provider: median wall time of its runner in milliseconds}.

    GPU: triton.testing.do_bench's median per provider. CPU: one warm-up call each, then
    `repeats` rounds that call every provider once in turn, so that a slow spell of a shared
    machine lands on all providers alike instead of on whichever was being timed."""
    if device.type == "cuda":
        import triton.testing
        return {p: float(triton.testing.do_bench(fn, warmup=50, rep=max(200, 50 * repeats), return_mode="median"))
                for p, fn in runners.items()}
    samples = {p: [] for p in runners}
    for fn in runners.values():
        fn()
    for _ in range(repeats):
        for p, fn in runners.items():
            start = time.perf_counter()
            fn()
            samples[p].append(1e3 * (time.perf_counter() - start))
    return {p: statistics.median(v) for p, v in samples.items()}


def plan_cost(w, model, z0, goal, objective, actions) -> torch.Tensor:
    return wmk.ops.rollout(model, z0, actions[:, None], goal, objective, backend="torch")[:, 0]


def check(w, providers, model, z0, goal, objective, tolerance) -> dict:
    """Run every provider with shared draws; return {provider: relative plan difference to torch}."""
    plans = {p: make_runner(p, w, model, z0, goal, objective, shared_draws=True)() for p in providers}
    reference = plans.get("torch", next(iter(plans.values())))
    ref_cost = plan_cost(w, model, z0, goal, objective, reference)
    diffs = {}
    for p, plan in plans.items():
        diff = float((plan - reference).norm() / reference.norm().clamp_min(1e-12))
        cost_gap = float(((plan_cost(w, model, z0, goal, objective, plan) - ref_cost).abs()
                          / ref_cost.abs().clamp_min(1e-6)).max())
        if not torch.isfinite(plan).all() or min(diff, cost_gap) > tolerance:
            raise AssertionError(f"{w.name}: provider {p} disagrees with {next(iter(plans)) if 'torch' not in plans else 'torch'}: "
                                 f"plan difference {diff:.2e}, cost gap {cost_gap:.2e} > {tolerance}")
        diffs[p] = diff
    return diffs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=2e-2,
                        help="largest relative plan difference (or plan cost gap) allowed against torch")
    parser.add_argument("--compile-on-cpu", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and the cpp backend")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False   # float32 everywhere: the kernels' own precision
    env = report.environment(device)
    peak = report.measure_peak_flops(device)
    print(f"device: {env['device']}; torch {env['torch']}, triton {env['triton']}, CUDA {env['cuda']}; "
          f"measured float32 matmul peak {peak / 1e9:.0f} GFLOP/s", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = report.slug(env["device"])
    rows = []
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        model, z0, goal, objective = make_problem(w, device)
        runnable = []
        for p in args.providers.split(","):
            reason = provider_reason(p, device, args.compile_on_cpu)
            if reason is None:
                runnable.append(p)
            else:
                print(f"  {name}: skipping {p}: {reason}", flush=True)
        diffs = check(w, runnable, model, z0, goal, objective, args.tolerance)
        runners = {p: make_runner(p, w, model, z0, goal, objective, shared_draws=False) for p in runnable}
        for p, ms in time_ms(runners, device, args.repeats).items():
            print(f"  {name:>11} {p:>8}: {ms:10.2f} ms  (plan difference to torch {diffs[p]:.1e})", flush=True)
            rows.append(report.row(env, w, p, ms, peak, diffs[p]))
        report.append_csv(rows[-len(runnable):], out / "results.csv")
        (out / f"{slug}.md").write_text(report.markdown(rows, env, peak))

    report.plot(rows, out / f"{slug}.png")
    print("\n" + report.markdown(rows, env, peak))


if __name__ == "__main__":
    sys.exit(main())
