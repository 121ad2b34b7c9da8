"""The CUDA architecture parser (wmkernels/_archs.py) shared by setup.py, the JIT build and
bench/compile_gate_cuda.py, and the wheel version that names the architectures."""
import importlib.util
from pathlib import Path

import pytest

from wmkernels import _archs, _build

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("spelling, canonical", [
    ("90", "9.0"), ("sm_90", "9.0"), ("sm90", "9.0"), ("SM_90", "9.0"), ("9.0", "9.0"),
    ("9.0a", "9.0a"), ("90a", "9.0a"), ("sm_90a", "9.0a"), ("9.0+PTX", "9.0"), ("8.6+ptx", "8.6"),
    ("86", "8.6"), ("sm_75", "7.5"), ("100", "10.0"), ("10.0a", "10.0a"), ("100f", "10.0f"),
    ("sm_120", "12.0"), ("12.0", "12.0"), (" 90 ", "9.0"),
])
def test_every_spelling_of_one_architecture(spelling, canonical):
    assert _archs.parse_one(spelling) == canonical
    assert _archs.parse(spelling) == [canonical]


@pytest.mark.parametrize("raw", ["80;90", "80,90", "80, 90", "sm_80 sm_90", "8.0;9.0", "9.0;8.0+PTX",
                                 "80;90;", "sm_90,8.0,90"])
def test_lists_in_any_separator_sorted_and_deduplicated(raw):
    assert _archs.parse(raw) == ["8.0", "9.0"]


@pytest.mark.parametrize("garbage", ["9", "abc", "9.0.1", "sm_9", "90b", "sm_", "80;x", "8.0.0;90", "0.0", "900",
                                     "compute-90", "9,0.5"])
def test_garbage_is_rejected_naming_the_item_and_the_spellings(garbage):
    with pytest.raises(_archs.ArchError) as err:
        _archs.parse(garbage)
    message = str(err.value)
    assert "90, sm_90, 9.0 or 9.0a" in message
    assert any(f"'{item}'" in message for item in garbage.replace(",", ";").split(";"))


@pytest.mark.parametrize("empty", ["", "  ", ";", None])
def test_an_empty_list_is_rejected(empty):
    with pytest.raises(_archs.ArchError, match="empty|cannot read"):
        _archs.parse(empty)


def test_arch_errors_are_value_errors():
    assert issubclass(_archs.ArchError, ValueError)


def test_nvcc_drops_what_it_cannot_target():
    assert _archs.select("70;80;90;100", (12, 4)) == (["7.0", "8.0", "9.0"], ["10.0"])
    assert _archs.select("sm_70,sm_80,9.0a", (13, 0)) == (["8.0", "9.0a"], ["7.0"])
    assert _archs.select("11.0;12.1", None) == (["11.0", "12.1"], [])  # no nvcc version: keep all
    with pytest.raises(_archs.ArchError, match="nvcc 13.0 can target none"):
        _archs.select("70", (13, 0))


def test_build_warns_when_nvcc_drops_an_architecture(monkeypatch):
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    monkeypatch.setenv("WMK_CUDA_ARCHS", "sm_70,90")
    with pytest.warns(UserWarning, match="nvcc 13.0 cannot target sm_70; building for sm_90 only"):
        assert _build.cuda_archs((13, 0)) == ["9.0"]
    monkeypatch.setenv("WMK_CUDA_ARCHS", "90")  # the spelling that used to fail
    assert _build.cuda_archs((13, 0)) == ["9.0"]


def test_gencode_flags_and_wheel_tag():
    assert _archs.gencode_flags(["8.0", "9.0a"]) == [
        "-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90a,code=sm_90a",
        "-gencode=arch=compute_90a,code=compute_90a"]
    assert _archs.tag(_archs.parse("90;80")) == "sm80.sm90"


def test_local_version_round_trip(monkeypatch):
    import torch
    monkeypatch.setattr(torch, "__version__", "2.14.1+cu130")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    local = _build.local_version(True, ["8.0", "9.0"])
    assert local == "cu130.torch2.14.1.sm80.sm90"
    assert _build.built_against(f"0.1.0+{local}") == {"torch": "2.14.1", "cuda": "13.0", "archs": ["sm80", "sm90"]}
    assert _build.requirements(True) == ["torch==2.14.1", "numpy"]
    assert _build.requirements(False)[0] == "torch>=2.4"
    monkeypatch.setattr(torch, "__version__", "2.13.0+cpu")
    assert _build.local_version(False) == "cpu.torch2.13.0"
    assert _build.built_against("0.1.0+cpu.torch2.13.0") == {"torch": "2.13.0", "cuda": None, "archs": []}
    assert _build.built_against("0.1.0") is None


def test_compile_gate_uses_the_same_parser():
    spec = importlib.util.spec_from_file_location("compile_gate_cuda", ROOT / "bench" / "compile_gate_cuda.py")
    gate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gate)
    assert gate.parse_archs("80,90") == ["80", "90"]
    assert gate.parse_archs("sm_90a;8.0") == ["80", "90a"]
    with pytest.raises(ValueError, match="cannot read CUDA architecture 'x'"):
        gate.parse_archs("80,x")
