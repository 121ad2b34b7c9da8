"""The CUDA compile gate (bench/compile_gate_cuda.py) in CI: every .cu compiles for sm_80 and
sm_90 with no spills in the plan kernels. Skipped where nvcc is absent."""
import importlib.util
from pathlib import Path

import pytest

GATE = Path(__file__).resolve().parents[2] / "bench" / "compile_gate_cuda.py"


def _gate():
    spec = importlib.util.spec_from_file_location("compile_gate_cuda", GATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cuda_sources_compile_without_plan_spills():
    gate = _gate()
    if gate.find_nvcc() is None:
        pytest.skip("nvcc not found: the CUDA compile gate needs the CUDA toolkit (set NVCC or CUDA_HOME)")
    status, rows = gate.run(["80", "90"])
    assert status == 0, "compile gate failed (see the table above)"
    kernels = {(r["kernel"], r["arch"]) for r in rows}
    assert len(kernels) >= 8
    assert {r["arch"] for r in rows} == {"sm_80", "sm_90"}


def test_floors_microbenchmark_compiles_for_sm90_without_spills(tmp_path):
    """bench/floors.cu (run by bench/gpu_suite.sh): its three chains compile for sm_90, spill-free."""
    import re
    import subprocess
    gate = _gate()
    nvcc = gate.find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found: the CUDA compile gate needs the CUDA toolkit (set NVCC or CUDA_HOME)")
    out = subprocess.run([nvcc, "-O3", "-arch=sm_90", "-Xptxas", "-v", "-c", "-o", str(tmp_path / "floors.o"),
                          str(GATE.parent / "floors.cu")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    kernels = set(re.findall(r"Compiling entry function '_Z\d+(\w+?_chain)", out.stderr))
    assert kernels == {"cluster_chain", "grid_chain", "matvec_chain"}, kernels
    spills = [int(s) for s in re.findall(r"(\d+) bytes spill stores", out.stderr)]
    assert len(spills) == 3 and not any(spills), out.stderr
