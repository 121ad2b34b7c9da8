"""Finding the CUDA toolkit for a build (wmkernels/_toolkit.py): a wrapper nvcc on PATH leads
to the real root, headers may come from pip's NVIDIA include folders, and anything missing
stops the build at once with what is missing. Runs on fake toolkits: no CUDA needed."""
import os
import stat

import pytest

from wmkernels import _build, _toolkit


def fake_toolkit(root, release="13.0", headers=_toolkit.REQUIRED_HEADERS, cudart=True):
    (root / "bin").mkdir(parents=True)
    nvcc = root / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\n"
                    f'case "$*" in *--dryrun*) echo "#$ TOP={root}/bin/.." ;; '
                    f'*) echo "Cuda compilation tools, release {release}, V{release}.1" ;; esac\n')
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IEXEC)
    (root / "include").mkdir()
    for header in headers:
        (root / "include" / header).write_text("")
    (root / "lib64").mkdir()
    if cudart:
        (root / "lib64" / "libcudart.so").write_text("")
    return root


@pytest.fixture
def env(monkeypatch, tmp_path):
    for var in ("CUDA_HOME", "CUDA_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_toolkit, "pip_include_dirs", lambda: [])
    return monkeypatch


def test_a_complete_toolkit(env, tmp_path):
    root = fake_toolkit(tmp_path / "cuda")
    env.setenv("CUDA_HOME", str(root))
    found = _toolkit.find("13.0")
    assert (found.home, found.version, found.extra_include_dirs) == (str(root), (13, 0), [])


def test_a_wrapper_nvcc_on_path_leads_to_the_real_root(env, tmp_path):
    root = fake_toolkit(tmp_path / "cuda-13.0")
    wrapper = tmp_path / "usr-local" / "bin"
    wrapper.mkdir(parents=True)
    (wrapper / "nvcc").write_text(f'#!/bin/sh\nexec {root}/bin/nvcc "$@"\n')
    (wrapper / "nvcc").chmod(0o755)
    env.setenv("PATH", f"{wrapper}{os.pathsep}{os.environ['PATH']}")
    assert _toolkit.candidates()[0][0] == str(root)
    assert _toolkit.find("13.0").home == str(root)


def test_headers_from_the_pip_include_folders(env, tmp_path):
    root = fake_toolkit(tmp_path / "cuda", headers=())
    pip_include = tmp_path / "site-packages" / "nvidia" / "cu13" / "include"
    pip_include.mkdir(parents=True)
    for header in _toolkit.REQUIRED_HEADERS:
        (pip_include / header).write_text("")
    env.setattr(_toolkit, "pip_include_dirs", lambda: [str(pip_include)])
    env.setenv("CUDA_HOME", str(root))
    assert _toolkit.find("13.0").extra_include_dirs == [str(pip_include)]


@pytest.mark.parametrize("what, expected", [
    ("nothing", "no bin/nvcc in"),
    ("headers", "no cuda_runtime_api.h, cuda_runtime.h in"),
    ("cudart", "no lib64/libcudart.so in"),
    ("version", "its nvcc is CUDA 12.8 but torch was built with CUDA 13.0"),
])
def test_what_is_missing_is_said(env, tmp_path, what, expected):
    root = tmp_path / "cuda"
    if what == "nothing":
        root.mkdir()
    else:
        fake_toolkit(root, release="12.8" if what == "version" else "13.0",
                     headers=() if what == "headers" else _toolkit.REQUIRED_HEADERS, cudart=what != "cudart")
    env.setenv("CUDA_HOME", str(root))
    with pytest.raises(_toolkit.ToolkitMissing) as err:
        _toolkit.find("13.0")
    assert expected in str(err.value) and f"CUDA_HOME={root}" in str(err.value)
    assert "Set CUDA_HOME" in str(err.value)


def test_force_cuda_stops_at_once_with_the_reason(env, tmp_path):
    import torch
    env.setattr(torch.version, "cuda", "13.0")
    env.setenv("CUDA_HOME", str(tmp_path))
    env.setenv("WMK_FORCE_CUDA", "1")
    with pytest.raises(RuntimeError, match="WMK_FORCE_CUDA=1 but the CUDA kernels cannot be built: .*no bin/nvcc"):
        _build.want_cuda()
    env.setenv("WMK_FORCE_CUDA", "")
    assert _build.want_cuda() is False  # without insisting: a CPU-only build
