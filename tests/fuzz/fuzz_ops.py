"""Differential fuzzer of the ops: random shapes, activations, skips, objectives, planners and
backends, each case against the independent float64 NumPy reference (reference.py).

    python tests/fuzz/fuzz_ops.py [--cases 1000] [--seed 0] [--backends torch,cpp,triton]

Under the Triton interpreter (TRITON_INTERPRET=1, set here unless a GPU is asked for) the triton
backend gets smaller problems (widths up to 24, T up to 3, fewer candidates, samples and
iterations): the interpreter spends seconds per case on the full sizes.

Prints, per backend, the number of cases and of failures (with the first failures' settings) and
exits 1 on any failure. Tolerances are relative-error norms ||out - ref|| / ||ref||:
- float64 inputs on a backend computing in float64 (torch, cpp): rollouts 1e-9, plans 1e-7;
- float32 inputs (torch, cpp) and float64 inputs on a backend computing in float32 (triton,
  cuda): rollouts 1e-3; plans: the cost and the history 1e-2 and the actions inside the bounds,
  since float32 rounding may move Adam's normalised steps and the elite choice of CEM.
`make fuzz` runs 1000 cases per backend available here; tests/fuzz/test_fuzz.py a few.
"""
import argparse
import os
import sys
import time
from pathlib import Path

if os.environ.get("WMK_TEST_DEVICE", "cpu") == "cpu":
    os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import reference  # noqa: E402
import wmkernels as wmk  # noqa: E402
from wmkernels import _backend  # noqa: E402

ACTIVATIONS = ("relu", "silu", "gelu", "tanh", "elu")
OPS = ("rollout", "rollout_grad", "gbp_plan", "cem_plan", "mppi_plan")
EXACT = ("torch", "cpp")   # backends that compute float64 inputs in float64


def _width(rng, small):
    if small:
        return int(rng.integers(1, 25))
    return int(rng.choice([rng.integers(1, 20), rng.integers(20, 48), 64, 70, 130]))


def make_case(rng, small=False):
    """One random case: sizes, model, objective, op and its settings (plain Python and NumPy)."""
    P, T, D, A = (int(rng.integers(1, 4)), int(rng.integers(1, 4 if small else 5)),
                  int(rng.integers(1, 7 if small else 10)), int(rng.integers(1, 5)))
    widths = [_width(rng, small) for _ in range(int(rng.integers(1, 5)))]
    sizes = [D + A] + widths + [D]
    scale = float(rng.choice([0.3, 0.6, 1.0]))
    weights = [rng.standard_normal((i, o)) * scale / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [0.1 * rng.standard_normal(o) for o in sizes[1:]]
    skip = {"identity": None, "zero": np.zeros((D, D)),
            "matrix": np.eye(D) + 0.2 * rng.standard_normal((D, D))}[str(rng.choice(["identity", "zero", "matrix"]))]
    model = dict(weights=weights, biases=biases, activation=str(rng.choice(ACTIVATIONS)), skip=skip)
    mode = str(rng.choice(["last", "all", "weights"]))
    base = float(rng.uniform(0.3, 1.0))
    w = {"last": np.eye(T)[-1], "all": base ** np.arange(T), "weights": rng.uniform(0.0, 1.5, T)}[mode]
    q = np.ones(D) if rng.random() < 0.5 else rng.uniform(0.0, 2.0, D)
    lam = float(rng.choice([0.0, 0.0, 0.05, 0.3]))
    kind = str(rng.choice(["none", "box", "box", "lower", "upper"]))
    lo = -rng.uniform(0.2, 1.5, A) if kind in ("box", "lower") else np.full(A, -np.inf)
    hi = rng.uniform(0.2, 1.5, A) if kind in ("box", "upper") else np.full(A, np.inf)
    obj = dict(w=w, q=q, lam=lam, lo=lo, hi=hi, mode=mode, base=base)
    op = str(rng.choice(OPS))
    case = dict(op=op, P=P, T=T, D=D, A=A, model=model, obj=obj, seed=int(rng.integers(0, 2**32)),
                z0=rng.standard_normal((P, D)), goal=rng.standard_normal((P, D)),
                float32=bool(op in ("rollout", "rollout_grad") and rng.random() < 0.3))
    if op in ("rollout", "rollout_grad", "gbp_plan"):
        N = int(rng.integers(1, 7)) if small or rng.random() < 0.8 else int(rng.integers(30, 45))
        case["actions"] = 0.7 * rng.standard_normal((P, N, T, A))
    if op == "gbp_plan":
        case.update(iters=int(rng.integers(1, 3 if small else 5)), lr=float(rng.choice([0.05, 0.2])),
                    optimizer=str(rng.choice(["adam", "sgd"])), noise=float(rng.choice([0.0, 0.01])))
    if op in ("cem_plan", "mppi_plan"):
        S = int(rng.integers(2, 13 if small else 40))
        case.update(samples=S, elites=int(rng.integers(1, S + 1)), iters=int(rng.integers(1, 3 if small else 4)),
                    momentum=float(rng.choice([0.0, 0.0, 0.3, 0.8])), temperature=float(rng.choice([0.1, 1.0, 5.0])),
                    mean=0.5 * rng.standard_normal((P, T, A)), std=rng.uniform(0.1, 1.0, (P, T, A)))
        if rng.random() < 0.2:   # a start outside the bounds
            case["mean"] = case["mean"] * 6.0
    return case


def _objective(obj):
    lo = obj["lo"].tolist() if np.isfinite(obj["lo"]).any() else float("-inf")
    hi = obj["hi"].tolist() if np.isfinite(obj["hi"]).any() else float("inf")
    kw = dict(q=obj["q"].tolist(), action_penalty=obj["lam"], lo=lo, hi=hi)
    if obj["mode"] == "weights":
        return wmk.Objective(weights=obj["w"].tolist(), **kw)
    return wmk.Objective(obj["mode"], base=obj["base"], **kw)


def run_backend(case, backend, device="cpu"):
    """The op's outputs on `backend` (tensors on `device`) as float64 NumPy arrays."""
    dtype = torch.float32 if case["float32"] else torch.float64
    t = lambda x: torch.from_numpy(np.asarray(x, dtype=np.float64)).to(dtype=dtype, device=device)  # noqa: E731
    m = case["model"]
    model = wmk.MLPWorldModel([t(w) for w in m["weights"]], [t(b) for b in m["biases"]], m["activation"],
                              None if m["skip"] is None else t(m["skip"]))
    obj = _objective(case["obj"])
    z0, goal, op = t(case["z0"]), t(case["goal"]), case["op"]
    if op == "rollout":
        out = wmk.ops.rollout(model, z0, t(case["actions"]), goal, obj, return_states=True, backend=backend)
    elif op == "rollout_grad":
        out = wmk.ops.rollout_grad(model, z0, t(case["actions"]), goal, obj, backend=backend)
    elif op == "gbp_plan":
        out = wmk.ops.gbp_plan(model, z0, goal, obj, t(case["actions"]), case["iters"], case["lr"],
                               case["optimizer"], noise=case["noise"], seed=case["seed"], backend=backend)
    elif op == "cem_plan":
        out = wmk.ops.cem_plan(model, z0, goal, obj, t(case["mean"]), t(case["std"]), case["samples"],
                               case["elites"], case["iters"], case["momentum"], seed=case["seed"], backend=backend)
    else:
        out = wmk.ops.mppi_plan(model, z0, goal, obj, t(case["mean"]), t(case["std"]), case["samples"],
                                case["iters"], case["temperature"], case["momentum"], seed=case["seed"],
                                backend=backend)
    return [o.double().cpu().numpy() for o in out]


def run_reference(case):
    m = case["model"]
    if case["float32"]:   # the reference sees the float32-rounded inputs
        r = lambda x: None if x is None else np.asarray(x, dtype=np.float32).astype(np.float64)  # noqa: E731
        m = dict(m, weights=[r(w) for w in m["weights"]], biases=[r(b) for b in m["biases"]], skip=r(m["skip"]))
        case = dict(case, z0=r(case["z0"]), goal=r(case["goal"]), actions=r(case["actions"]))
    obj, op = case["obj"], case["op"]
    if op == "rollout":
        return list(reference.rollout(m, case["z0"], case["actions"], case["goal"], obj))
    if op == "rollout_grad":
        return list(reference.rollout_grad(m, case["z0"], case["actions"], case["goal"], obj))
    if op == "gbp_plan":
        return list(reference.gbp_plan(m, case["z0"], case["goal"], obj, case["actions"], case["iters"], case["lr"],
                                       case["optimizer"], 0.9, 0.999, 1e-8, case["noise"], case["seed"]))
    if op == "cem_plan":
        return list(reference.cem_plan(m, case["z0"], case["goal"], obj, case["mean"], case["std"], case["samples"],
                                       case["elites"], case["iters"], case["momentum"], case["seed"]))
    return list(reference.mppi_plan(m, case["z0"], case["goal"], obj, case["mean"], case["std"], case["samples"],
                                    case["iters"], case["temperature"], case["momentum"], case["seed"]))


def rel_err(out, ref):
    return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))


def check(case, backend, out, ref):
    """None if `out` agrees with `ref`, else a sentence saying where it does not."""
    exact = backend in EXACT and not case["float32"]
    plan = case["op"].endswith("_plan")
    if [o.shape for o in out] != [r.shape for r in ref]:
        return f"shapes {[o.shape for o in out]} != reference {[r.shape for r in ref]}"
    for i, (o, r) in enumerate(zip(out, ref)):
        if not np.isfinite(o).all():
            return f"output {i} is not finite"
        if plan and i == 0:
            lo, hi = case["obj"]["lo"], case["obj"]["hi"]
            if not ((o >= lo) & (o <= hi)).all():
                return "the plan leaves [lo, hi]"
            if not exact:
                continue
        limit = (1e-7 if plan else 1e-9) if exact else (1e-2 if plan else 1e-3)
        err = rel_err(o, r)
        if not err < limit:
            return f"output {i}: relative error {err:.2e} >= {limit:.0e}"
    return None


def describe(case):
    m = case["model"]
    widths = [w.shape[1] for w in m["weights"][:-1]]
    skip = "identity" if m["skip"] is None else ("zero" if not m["skip"].any() else "matrix")
    extra = {k: case[k] for k in ("iters", "lr", "optimizer", "noise", "samples", "elites", "momentum",
                                  "temperature") if k in case}
    n = case["actions"].shape[1] if "actions" in case else None
    return (f"{case['op']} P={case['P']} N={n} T={case['T']} D={case['D']} A={case['A']} widths={widths} "
            f"{m['activation']} skip={skip} mode={case['obj']['mode']} lam={case['obj']['lam']} "
            f"float32={case['float32']} seed={case['seed']} {extra}")


def fuzz(cases, seed, backends, show=3, out=print, device="cpu"):
    """Runs `cases` random cases (the same ones, from `seed`) on each backend; the interpreted
    Triton backend gets the small profile. Returns {backend: (cases, failures)}."""
    torch.set_num_threads(1)
    counts = {}
    for backend in backends:
        rng = np.random.default_rng(seed)
        small = backend == "triton" and os.environ.get("TRITON_INTERPRET") == "1"
        failed = 0
        for _ in range(cases):
            case = make_case(rng, small)
            try:
                problem = check(case, backend, run_backend(case, backend, device), run_reference(case))
            except Exception as err:  # noqa: BLE001 - a crash is a failure of the case
                problem = f"raised {type(err).__name__}: {str(err).splitlines()[0][:200]}"
            if problem is not None:
                failed += 1
                if failed <= show:
                    out(f"FAIL {backend}: {problem}\n    {describe(case)}")
        counts[backend] = (cases, failed)
        out(f"{backend:>7}: {cases} cases{' (small)' if small else ''}, {failed} failures")
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default=None, help="comma-separated (default: every backend available here)")
    parser.add_argument("--device", default=os.environ.get("WMK_TEST_DEVICE", "cpu"), help="cpu or cuda")
    args = parser.parse_args(argv)
    device = args.device
    backends = args.backends.split(",") if args.backends else [
        b for b in _backend.BACKENDS if _backend.unavailable_reason(b, device) is None]
    start = time.perf_counter()
    counts = fuzz(args.cases, args.seed, backends, device=device)
    print(f"{time.perf_counter() - start:.0f} s")
    return 1 if any(failed for _, failed in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
