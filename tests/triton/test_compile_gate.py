"""The GPU compile gate (bench/compile_gate_triton.py) as a test: every kernel compiles ahead of
time for sm_80 and sm_90 at the standard workloads' configurations, with no register spills.

Runs in a subprocess (the test session has TRITON_INTERPRET=1 set; the gate must compile).
Set WMK_SKIP_COMPILE_GATE=1 to skip it (it takes a minute or two on two cores the first time;
triton's cache makes later runs fast)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATE = ROOT / "bench" / "compile_gate_triton.py"


def _nvidia_backend_present():
    if importlib.util.find_spec("triton") is None:
        return False
    import triton
    return (Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas").exists()


@pytest.mark.skipif(os.environ.get("WMK_SKIP_COMPILE_GATE") == "1", reason="WMK_SKIP_COMPILE_GATE=1")
@pytest.mark.skipif(not _nvidia_backend_present(), reason="triton's NVIDIA backend (ptxas) is not installed")
def test_compile_gate_has_no_spills():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, str(GATE), "--arch", "80", "90"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " 0 failures" in proc.stdout
