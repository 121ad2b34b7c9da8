"""CI: the installed wheel loads its prebuilt extension and plans with the cpp backend on CPU.

Run from outside the source tree, with the venv the wheel was installed into:
    python .ci/wheel_smoke.py ARCHS        # e.g. 90: the architectures the wheel must hold
    python .ci/wheel_smoke.py --mismatch   # the wheel beside another torch: a clear reason
    python .ci/wheel_smoke.py --cpu-torch  # as beside a CPU build of the same torch: CPU-only copy
"""
import sys
import warnings

import torch

import wmkernels as wmk
from wmkernels import _archs


def tiny_plan():
    torch.manual_seed(0)
    D, A, H, P = 4, 2, 16, 3
    model = wmk.MLPWorldModel(weights=[torch.randn(D + A, H) * 0.1, torch.randn(H, D) * 0.1],
                              biases=[torch.zeros(H), torch.zeros(D)], activation="relu")
    planner = wmk.GradientPlanner(model, horizon=4, iters=10, lr=0.1, backend="cpp")
    res = planner.plan(torch.randn(P, D), torch.randn(P, D))
    assert res.info["backend"] == "cpp", res.info
    assert res.actions.shape == (P, 4, A) and torch.isfinite(res.cost).all(), res
    runtimes = {line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line.split()[-1]}
    assert len(runtimes) == 1, f"more than one OpenMP runtime in the process: {runtimes}"
    return res


def check_wheel(raw_archs: str):
    archs = ";".join(_archs.parse(raw_archs))
    assert "site-packages" in wmk.__file__, f"wmkernels comes from {wmk.__file__}, not the installed wheel"
    ext = wmk.info()["extension"]
    assert ext.get("built") and ext["source"] == "prebuilt", ext
    assert ext["has_cuda"] and ext["archs"] == archs, ext
    assert ext["torch"] == torch.__version__, ext
    res = tiny_plan()
    print(f"wheel ok: wmkernels {wmk.info()['wmkernels']} from {wmk.__file__}; extension {ext['how']}, torch {ext['torch']}, "
          f"CUDA {ext['cuda']}, archs {ext['archs']}, cpu isa {ext['cpu_isa']}; cpp plan cost {res.cost.tolist()}")


def check_mismatch():
    import importlib.metadata
    from wmkernels import _build
    built = _build.built_against(importlib.metadata.version("wmkernels"))["torch"]
    if torch.__version__.split("+")[0] == built:
        print(f"mismatch check skipped: this torch ({torch.__version__}) is the one the wheel was built against")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reason = wmk.info()["backends"]["cpp"]
    assert "was built against torch" in reason and torch.__version__ in reason, reason
    assert any("was built against torch" in str(w.message) for w in caught), [str(w.message) for w in caught]
    try:
        tiny_plan()
    except wmk.BackendUnavailable as err:
        assert "was built against torch" in str(err), err
    else:
        raise AssertionError("the cpp backend ran with a mismatched torch")
    print(f"mismatch ok: torch {torch.__version__}; cpp backend: {reason}")


def check_cpu_torch():
    """What a CPU build of the same torch version reports, CUDA libraries aside: torch.version.cuda
    is None there, so the loader takes the CPU-only copy of the extension."""
    torch.version.cuda = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ext = wmk.info()["extension"]
    assert any("CPU-only copy" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert ext["built"] and not ext["has_cuda"] and "CPU build" in ext["warning"], ext
    assert "CPU-only copy" in ext["how"], ext
    from wmkernels import _extension
    assert _extension.module().__name__ == "wmkernels._C_cpu"
    res = tiny_plan()
    print(f"cpu-torch ok: {ext['how']}; warning: {ext['warning']}; cpp plan cost {res.cost.tolist()}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--mismatch"]:
        check_mismatch()
    elif sys.argv[1:] == ["--cpu-torch"]:
        check_cpu_torch()
    else:
        check_wheel(sys.argv[1])
