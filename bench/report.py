"""Result rows, the CSV log, the markdown table with ratios and floors, and the plot."""
import csv
import datetime
import re
import subprocess
import time
from pathlib import Path

import torch

from wmkernels._info import chip_name, package_version

FIELDS = ["time_utc", "commit", "device", "torch", "triton", "cuda", "workload", "provider", "median_ms",
          "gflop", "chain", "plan_diff"]


def environment(device: torch.device) -> dict:
    name = chip_name(device)
    if device.type == "cpu":
        name = f"{name} ({torch.get_num_threads()} threads)"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"time_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": commit, "device": name, "torch": torch.__version__, "triton": package_version("triton") or "none",
            "cuda": torch.version.cuda or "none"}


def measure_peak_flops(device: torch.device, trials: int = 5) -> float:
    """Float32 matmul rate (FLOP/s) through torch, the FLOP ceiling: the best of `trials` timings
    of three products at each of two square sizes (a peak is a best rate; one timing on a shared
    or frequency-scaling machine can come out tens of percent low)."""
    sizes = (4096, 8192) if device.type == "cuda" else (1024, 2048)
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        a @ b
        for _ in range(trials):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(3):
                a @ b
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = max(best, 2 * n ** 3 * 3 / (time.perf_counter() - start))
    return best


def row(env, workload, provider, median_ms, peak, plan_diff) -> dict:
    return {**env, "workload": workload.name, "provider": provider, "median_ms": f"{median_ms:.4f}",
            "gflop": f"{workload.flops() / 1e9:.4f}", "chain": workload.chain(), "plan_diff": f"{plan_diff:.2e}"}


def append_csv(rows, path: Path) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def slug(device_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-")[:60]


def markdown(rows, env, peak) -> str:
    """One table: time, speed-up over eager and torch.compile, and distance from the floors."""
    lines = [f"# Plan benchmarks on {env['device']}", "",
             f"torch {env['torch']}, triton {env['triton']}, CUDA {env['cuda']}, commit {env['commit']}, "
             f"{env['time_utc']}. Measured float32 matmul peak: {peak / 1e9:.0f} GFLOP/s.", "",
             "x eager / x compile: how many times faster than eager PyTorch (the DINO-WM way) and "
             "torch.compile(mode='reduce-overhead'). FLOP floor: the plan's FLOPs at the measured peak. "
             "Chain: dependent matmuls (iters x horizon x layers, x2 for GBP); ns/link = time / chain.", "",
             "| workload | provider | median ms | x eager | x compile | GFLOP | x FLOP floor | chain | ns/link |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_workload = {}
    for r in rows:
        by_workload.setdefault(r["workload"], {})[r["provider"]] = r
    for name, providers in by_workload.items():
        eager = float(providers["eager"]["median_ms"]) if "eager" in providers else None
        compiled = float(providers["compile"]["median_ms"]) if "compile" in providers else None
        for provider, r in providers.items():
            ms = float(r["median_ms"])
            floor_ms = 1e3 * float(r["gflop"]) * 1e9 / peak
            ratio = lambda base: f"{base / ms:.1f}" if base else "-"
            lines.append(f"| {name} | {provider} | {ms:.2f} | {ratio(eager)} | {ratio(compiled)} | "
                         f"{float(r['gflop']):.3f} | {ms / floor_ms:.2f} | {r['chain']} | "
                         f"{1e6 * ms / int(r['chain']):.0f} |")
    gbp, cem = by_workload.get("paper-gbp", {}), by_workload.get("paper-cem", {})
    fused = [p for p in ("cuda", "triton", "cpp") if p in gbp and p in cem]
    if fused:
        lines.append("")
        for p in fused:
            share = float(gbp[p]["median_ms"]) / float(cem[p]["median_ms"])
            lines.append(f"Fused GBP plan / fused CEM plan ({p}): {100 * share:.1f}% of CEM's time.")
    return "\n".join(lines) + "\n"


def plot(rows, path: Path) -> None:
    """Bars of median time per workload and provider, log scale."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot at {path}")
        return
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    providers = list(dict.fromkeys(r["provider"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(workloads), 4))
    width = 0.8 / len(providers)
    for i, p in enumerate(providers):
        xs, ys = [], []
        for j, name in enumerate(workloads):
            match = [r for r in rows if r["workload"] == name and r["provider"] == p]
            if match:
                xs.append(j + i * width)
                ys.append(float(match[0]["median_ms"]))
        ax.bar(xs, ys, width, label=p)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(workloads))], workloads)
    ax.set_yscale("log")
    ax.set_ylabel("median time per plan (ms)")
    ax.set_title(rows[0]["device"] if rows else "")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
