"""GPU compile gate for the Triton kernels, runnable on a machine without a GPU.

Compiles every kernel ahead of time (triton.compile(ASTSource(...), target=GPUTarget(...)))
at the configurations the standard workloads use (docs/benchmarks.md), for sm_80 and sm_90,
reads registers, spills (local memory) and shared memory of each cubin with the cuobjdump that
triton ships, prints a table, and exits non-zero on any spill or failed compile.

    python bench/compile_gate_triton.py [--arch 80 90] [--jobs 4] [--quick]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
os.environ.pop("TRITON_INTERPRET", None)   # the gate compiles; it never interprets

# float arguments of the kernels (everything else that is not a pointer or constexpr is an int)
_FLOAT_ARGS = {"lam", "lr", "beta1", "beta2", "eps", "noise", "temperature", "momentum", "bc1", "bc2"}
_INT64_ARGS = {"key"}

def _standard_workloads():
    """(name, sizes) of the standard workloads of bench/workloads.py, as the kernels see them."""
    from bench.workloads import WORKLOADS as standard
    return [(w.name, dict(D=w.D, A=w.A, H=max(w.widths), L=len(w.widths), T=w.T, N=w.N, P=w.P,
                          iters=w.iters, elites=w.elites)) for w in standard.values()]


WORKLOADS = _standard_workloads()



def _kernel_meta(w, kernel, arch, one_row=False):
    """The constexprs and launch options of an MLP kernel for a workload on sm_<arch>, as the
    launchers choose them (`one_row`: the opt-in one-row GBP tiles)."""
    from wmkernels import activations
    from wmkernels.ops._triton import packing, settings
    pk = dict(DP=packing.pad_dim(w["D"]), AP=packing.pad_dim(w["A"]), HP=packing.pad_dim(w["H"]), L=w["L"],
              act=activations.IDS["relu"], skip=packing.SKIP_IDENTITY)
    bs = packing.block_sizes(pk, w["N"], kernel, arch, one_row)
    meta = packing.meta(pk, bs, kernel)
    meta["PREC"] = "ieee"
    launch = {k: meta.pop(k) for k in settings.LAUNCH[kernel]}
    return meta, launch, bs


def configurations(arch, quick=False):
    """[(workload, family, kernel name, label, constexprs, launch options)] at every standard workload,
    for sm_<arch>.

    Variants that only flip a constexpr in code shared with another entry (e.g. SGD vs Adam,
    MPPI vs CEM in the fused kernel) are compiled at one workload; quick drops them."""
    from wmkernels.ops._triton import packing, settings
    from wmkernels.ops._triton.mlp import UPDATE_ADAM, UPDATE_SGD
    from wmkernels.ops.sampling.triton import column_block
    out = []
    for name, w in WORKLOADS:
        meta, launch, bs = _kernel_meta(w, "rollout", arch)
        out.append((name, "rollouts", "_rollout_kernel", "cost", dict(meta, GRAD=False, WRITE_STATES=False), launch))
        out.append((name, "rollouts", "_rollout_kernel", "cost+grad", dict(meta, GRAD=True, WRITE_STATES=False), launch))
        if name == "paper-gbp" and not quick:
            out.append((name, "rollouts", "_rollout_kernel", "cost+states",
                        dict(meta, GRAD=False, WRITE_STATES=True), launch))
        if name in ("paper-gbp", "wide-batch"):
            meta, launch, bs = _kernel_meta(w, "gbp", arch)
            out.append((name, "gbp", "_gbp_kernel", "adam+noise", dict(meta, OPT=UPDATE_ADAM, NOISE=True), launch))
            if name == "paper-gbp" and not quick:
                out.append((name, "gbp", "_gbp_kernel", "sgd", dict(meta, OPT=UPDATE_SGD, NOISE=False), launch))
            if w["N"] < 16:
                meta, launch, bs = _kernel_meta(w, "gbp", arch, one_row=True)
                out.append((name, "gbp", "_gbp_kernel", "adam+noise, one-row tiles",
                            dict(meta, OPT=UPDATE_ADAM, NOISE=True), launch))
        else:
            SP = packing.pad_dim(w["N"])
            BC = column_block(w["T"] * w["A"])
            meta, launch, bs = _kernel_meta(w, "sampling_plan", arch)
            smeta = dict(meta, SP=SP, BC=BC)
            out.append((name, "sampling", "_sampling_plan_kernel", "cem fused", dict(smeta, CEM=True), launch))
            if name == "paper-cem" and not quick:
                out.append((name, "sampling", "_sampling_plan_kernel", "mppi fused", dict(smeta, CEM=False), launch))
            meta, launch, bs = _kernel_meta(w, "sample_rollout", arch)
            out.append((name, "sampling", "_sample_rollout_kernel", "sample+rollout", dict(meta, SP=SP, BC=BC), launch))
            for cem in (True, False):
                out.append((name, "sampling", "_refit_kernel", "cem refit" if cem else "mppi refit",
                            dict(SP=SP, BN=bs["BN"], BC=BC, CEM=cem), dict(settings.LAUNCH["refit"])))
    out.append(("any", "adam", "_adam_kernel", "adam+noise", dict(HAS_NOISE=True, BLOCK=1024),
                dict(settings.LAUNCH["adam"])))
    return out


def _signature(kernel, constexprs):
    sig = {}
    for arg in kernel.arg_names:
        if arg in constexprs:
            sig[arg] = "constexpr"
        elif arg.endswith("_ptr"):
            sig[arg] = "*fp32"
        elif arg in _FLOAT_ARGS:
            sig[arg] = "fp32"
        elif arg in _INT64_ARGS:
            sig[arg] = "i64"
        else:
            sig[arg] = "i32"
    return sig


def _resource_usage(cubin: bytes):
    """(registers, local-memory bytes per thread = spills/stack, static shared bytes) via cuobjdump."""
    import triton
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    if not os.path.exists(tool):
        tool = shutil.which("cuobjdump")
    if tool is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        text = subprocess.run([tool, "-res-usage", f.name], capture_output=True, text=True).stdout
    m = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", text)
    if m is None:
        return None
    reg, stack, shared, local = map(int, m.groups())
    return reg, max(stack, local), shared


def compile_one(item):
    """Compile one configuration for one arch; returns a result row (dict)."""
    (workload, family, kname, label, constexprs, launch), arch = item
    import importlib
    import triton
    from triton.backends.compiler import GPUTarget
    module = importlib.import_module(f"wmkernels.ops.{family}.triton")
    kernel = getattr(module, kname)
    row = dict(workload=workload, kernel=kname, config=label, arch=f"sm_{arch}",
               warps=launch.get("num_warps", 4))
    start = time.perf_counter()
    try:
        src = triton.compiler.ASTSource(fn=kernel, signature=_signature(kernel, constexprs),
                                        constexprs=constexprs)
        compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                                  options=dict(launch))
        usage = _resource_usage(compiled.asm["cubin"])
        ptx = compiled.asm["ptx"]
        spill_ptx = len(re.findall(r"\bst\.local\b", ptx))
        if usage is None:
            regs, local, shared = None, None, compiled.metadata.shared
        else:
            regs, local, shared = usage
        row.update(ok=True, regs=regs, local=local, shared=max(shared or 0, compiled.metadata.shared),
                   ptx_local_stores=spill_ptx)
    except Exception as err:  # noqa: BLE001 - reported in the table
        row.update(ok=False, error=f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
    row["seconds"] = time.perf_counter() - start
    return row


def run(archs=(80, 90), jobs=None, quick=False, only=None):
    items = [(cfg, arch) for arch in archs for cfg in configurations(arch, quick)
             if only is None or all(o in " ".join(map(str, cfg[:4])) for o in only)]
    jobs = jobs or max(1, min(len(items), os.cpu_count() or 1))
    if jobs == 1:
        return [compile_one(i) for i in items]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(compile_one, items))


def failures(rows):
    bad = []
    for r in rows:
        if not r["ok"]:
            bad.append(f"{r['workload']} {r['kernel']} [{r['config']}] {r['arch']}: {r['error']}")
        elif (r["local"] or 0) > 0 or r["ptx_local_stores"] > 0:
            bad.append(f"{r['workload']} {r['kernel']} [{r['config']}] {r['arch']}: spills "
                       f"({r['local']} B local, {r['ptx_local_stores']} st.local)")
    return bad


def table(rows):
    head = (f"{'workload':<11} {'kernel':<23} {'config':<15} {'arch':<6} {'warps':>5} {'regs':>5} "
            f"{'spill B':>8} {'smem B':>7} {'s':>5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if r["ok"]:
            lines.append(f"{r['workload']:<11} {r['kernel']:<23} {r['config']:<15} {r['arch']:<6} "
                         f"{r['warps']:>5} {str(r['regs']):>5} {str(r['local']):>8} {r['shared']:>7} "
                         f"{r['seconds']:5.1f}")
        else:
            lines.append(f"{r['workload']:<11} {r['kernel']:<23} {r['config']:<15} {r['arch']:<6} FAILED")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, nargs="+", default=[80, 90])
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="skip the variants that share code paths")
    ap.add_argument("--only", nargs="+", default=None,
                    help="compile only configurations whose 'workload family kernel config' has all these words")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    rows = run(tuple(args.arch), args.jobs, args.quick, args.only)
    print(table(rows))
    bad = failures(rows)
    print(f"\n{len(rows)} compiles in {time.perf_counter() - start:.1f} s; {len(bad)} failures")
    for b in bad:
        print("FAIL", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
