"""The extension's loading rules and what it reports."""
import subprocess
import sys

import pytest

import wmkernels as wmk

from cpp_helpers import cpp_reason


def test_import_does_not_load_the_extension():
    code = ("import sys, wmkernels as wmk, torch\n"
            "wmk.MLPWorldModel([torch.zeros(3, 4), torch.zeros(4, 2)], [torch.zeros(4), torch.zeros(2)])\n"
            "wmk.Objective(); wmk.GradientPlanner\n"
            "loaded = [m for m in sys.modules if m.startswith('wmkernels._C') or m == 'wmkernels_C_jit']\n"
            "assert not loaded, loaded\n"
            "assert 'triton' not in sys.modules\n"
            "assert 'wmkernels._build' not in sys.modules\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))
def test_info_reports_the_build():
    report = wmk.info()
    ext = report["extension"]
    assert ext["built"] is True
    for key in ("torch", "cuda", "archs", "cxx_flags", "has_cuda", "cpu_isa", "cpu_isas", "source"):
        assert key in ext
    assert ext["cpu_isa"] in ext["cpu_isas"]
    assert report["backends"]["cpp"] == "available"
    if not ext["has_cuda"]:
        from wmkernels import _extension
        assert "without CUDA" in _extension.unavailable_reason("cuda")


def test_disabled_extension_reports_a_reason():
    code = ("import os; os.environ['WMK_NO_EXTENSION'] = '1'\n"
            "import wmkernels as wmk, torch\n"
            "from wmkernels import _backend\n"
            "r = _backend.unavailable_reason('cpp', 'cpu')\n"
            "assert r and 'WMK_NO_EXTENSION' in r, r\n"
            "try:\n"
            "    _backend.resolve('cpp', 'cpu')\n"
            "except wmk.BackendUnavailable as e:\n"
            "    assert 'WMK_NO_EXTENSION' in str(e)\n"
            "else:\n"
            "    raise AssertionError('no error')\n"
            "assert _backend.resolve('auto', 'cpu') == 'torch'\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_build_parameters():
    from wmkernels import _build
    assert _build.gencode_flags(["8.0", "9.0"]) == [
        "-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=sm_90",
        "-gencode=arch=compute_90,code=compute_90"]
    assert _build.max_jobs() >= 1
    assert "-march" not in " ".join(_build.CXX_FLAGS)
    assert all(s.endswith((".cpp", ".cu")) for s in _build.sources(True))


def test_arch_list_is_gated_on_nvcc(monkeypatch):
    from wmkernels import _build
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    monkeypatch.setenv("WMK_CUDA_ARCHS", "7.0;8.0;9.0;10.0")
    assert _build.cuda_archs((12, 4)) == ["7.0", "8.0", "9.0"]
    assert _build.cuda_archs((13, 0)) == ["8.0", "9.0", "10.0"]
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.6+PTX")
    assert _build.cuda_archs((12, 0)) == ["8.6"]
