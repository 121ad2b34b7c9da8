"""A wheel's extension beside another torch than the one it was built against: a clear reason
and a warning instead of a linker error (wmkernels/_prebuilt.py)."""
import pytest

from wmkernels import _prebuilt

CUDA_WHEEL = "0.1.0+cu130.torch2.14.1.sm80.sm90"
CPU_WHEEL = "0.1.0+cpu.torch2.13.0"


def test_matching_torch_is_no_problem():
    assert _prebuilt.mismatch(CUDA_WHEEL, "2.14.1+cu130", "13.0") == (None, True)
    assert _prebuilt.mismatch(CUDA_WHEEL, "2.14.1", "13.2") == (None, True)  # same CUDA major
    assert _prebuilt.mismatch(CPU_WHEEL, "2.13.0+cpu", None) == (None, True)
    assert _prebuilt.mismatch(CPU_WHEEL, "2.13.0+cu130", "13.0") == (None, True)  # CPU kernels only
    assert _prebuilt.mismatch("0.1.0", "2.13.0", None) == (None, True)  # no extension, no pin


def test_another_torch_version_loads_nothing_and_says_what_to_install():
    problem, cpu_only_ok = _prebuilt.mismatch(CUDA_WHEEL, "2.13.0+cpu", None)
    assert not cpu_only_ok
    assert "built against torch 2.14.1, but torch 2.13.0+cpu is installed" in problem
    assert "Install torch==2.14.1 built with CUDA 13.0" in problem
    assert "neither its CUDA nor its CPU kernels" in problem


def test_a_cpu_torch_of_the_same_version_names_the_missing_cuda_libraries():
    problem, cpu_only_ok = _prebuilt.mismatch(CUDA_WHEEL, "2.14.1+cpu", None)
    assert cpu_only_ok
    assert "CPU build" in problem and "libc10_cuda.so" in problem and "CUDA 13.0" in problem


def test_another_cuda_major_version():
    problem, cpu_only_ok = _prebuilt.mismatch(CUDA_WHEEL, "2.14.1+cu128", "12.8")
    assert cpu_only_ok and "uses CUDA 12.8" in problem


def test_import_refuses_with_a_warning_and_the_reason(monkeypatch):
    monkeypatch.setattr(_prebuilt, "_origin", lambda name: "/x/_C.so" if name == _prebuilt.PREBUILT else None)
    monkeypatch.setattr(_prebuilt, "installed_version", lambda origin: "0.1.0+cu130.torch1.0.0.sm90")
    with pytest.warns(RuntimeWarning, match="built against torch 1.0.0"):
        with pytest.raises(ImportError, match="built against torch 1.0.0"):
            _prebuilt.import_prebuilt()


def test_metadata_of_another_install_is_not_taken_for_the_extension(tmp_path):
    # an editable install or a source checkout: no installed wheel lists this file
    assert _prebuilt.installed_version(tmp_path / "wmkernels" / "_C.so") is None
