"""CUDA compile gate: compile every csrc/*.cu for sm_80 and sm_90 with ptxas verbose output
(compile only, no link, no GPU and no torch needed) and print registers, spills, stack and
static shared memory per kernel. Spills in a plan kernel (gbp/cem/mppi: names containing
"plan") fail the gate; spills elsewhere are reported.

    python bench/compile_gate_cuda.py [--archs 80,90] [--out bench/results/cuda_compile_gate.md]

--archs takes any spelling of wmkernels/_archs.py ("80,90", "sm_80;sm_90", "8.0;9.0a").

Exit status: 0 passed, 1 failed, 2 skipped (no nvcc).
"""
import argparse
import concurrent.futures
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
SKIPPED = 2


def _load_archs():
    """wmkernels/_archs.py, by path: the package's one architecture parser, without torch."""
    spec = importlib.util.spec_from_file_location("wmkernels_archs", ROOT / "wmkernels" / "_archs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_archs = _load_archs()


def parse_archs(raw: str):
    """SM numbers ("80", "90a") of an architecture list; raises ValueError on an unreadable one."""
    return [_archs.sm_name(a) for a in _archs.parse(raw)]


_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'")
_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers(?:.*?, (\d+) bytes smem)?")


def find_nvcc():
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"),
                      os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def compile_one(nvcc, source: Path, arch: str, workdir: str):
    """Compile `source` for sm_`arch`; returns (kernel rows, ok, log)."""
    out = Path(workdir) / f"{source.stem}_sm{arch}.o"
    cmd = [nvcc, "-std=c++17", "-O3", f"-I{CSRC}", f"-gencode=arch=compute_{arch},code=sm_{arch}",
           "-Xptxas", "-v", "-c", str(source), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    rows, current = [], None
    for line in log.splitlines():
        m = _ENTRY.search(line)
        if m:
            current = {"file": source.name, "kernel": m.group(1), "arch": m.group(2), "registers": None,
                       "stack": 0, "spill_stores": 0, "spill_loads": 0, "smem": 0}
            rows.append(current)
            continue
        if current is None:
            continue
        m = _STACK.search(line)
        if m and current["registers"] is None:
            current["stack"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
            continue
        m = _USED.search(line)
        if m and current["registers"] is None:
            current["registers"] = int(m.group(1))
            current["smem"] = int(m.group(2) or 0)
    return rows, proc.returncode == 0, " ".join(cmd) + "\n" + log


def demangle(names):
    tool = shutil.which("cu++filt") or shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    proc = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True)
    out = proc.stdout.splitlines()
    if len(out) != len(names):
        return {n: n for n in names}
    # Keep the readable part: namespace-free name and template arguments, no parameter list.
    short = {}
    for mangled, plain in zip(names, out):
        plain = re.sub(r"\(.*\)$", "", plain).replace("wmk::cuda::", "")
        short[mangled] = plain.replace("void ", "")
    return short


def run(archs, out_path=None, verbose=False):
    nvcc = find_nvcc()
    if nvcc is None:
        print("compile gate skipped: nvcc not found (set NVCC or CUDA_HOME)")
        return SKIPPED, []
    sources = sorted(CSRC.glob("*.cu"))
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1]
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as workdir, concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        jobs = {pool.submit(compile_one, nvcc, src, arch, workdir): (src, arch) for src in sources for arch in archs}
        for job in concurrent.futures.as_completed(jobs):
            src, arch = jobs[job]
            kernel_rows, ok, log = job.result()
            rows.extend(kernel_rows)
            if verbose or not ok:
                print(log)
            if not ok:
                failures.append(f"{src.name} does not compile for sm_{arch}")
    names = demangle(sorted({r["kernel"] for r in rows}))
    rows.sort(key=lambda r: (r["file"], names[r["kernel"]], r["arch"]))
    lines = [f"CUDA compile gate ({version}; static smem only, dynamic smem is sized at launch)", "",
             "| file | kernel | arch | registers | spill stores | spill loads | stack | static smem |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['file']} | `{names[r['kernel']]}` | {r['arch']} | {r['registers']} | "
                     f"{r['spill_stores']} | {r['spill_loads']} | {r['stack']} | {r['smem']} |")
        spills = r["spill_stores"] + r["spill_loads"]
        if spills and "plan" in names[r["kernel"]]:
            failures.append(f"{names[r['kernel']]} spills {spills} bytes on {r['arch']}")
        elif spills:
            lines.append(f"|  | (warning: spills in a non-plan kernel) |  |  |  |  |  |  |")
    if not rows:
        failures.append("no kernels were compiled")
    table = "\n".join(lines)
    print(table)
    print()
    print("FAILED:\n  " + "\n  ".join(failures) if failures else "compile gate passed")
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(table + "\n\n" + ("FAILED: " + "; ".join(failures) if failures else "passed") + "\n")
    return (1 if failures else 0), rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="80,90", help="SM versions, e.g. 80,90 or sm_90 or 9.0a (default 80,90)")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the full ptxas logs")
    args = parser.parse_args(argv)
    try:
        archs = parse_archs(args.archs)
    except ValueError as err:
        parser.error(str(err))
    status, _ = run(archs, args.out, args.verbose)
    return status


if __name__ == "__main__":
    sys.exit(main())
