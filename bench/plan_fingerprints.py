"""Bit-level fingerprints of every op on every available backend, for fixed seeds.

    python -m bench.plan_fingerprints save FILE      # record (e.g. before a refactor)
    python -m bench.plan_fingerprints compare FILE   # exit 1 if any output's bits changed

Each case runs one public op (wmkernels.ops.*) on small odd shapes in float32 and float64
and hashes the bytes of every output tensor (SHA-256). Two runs on the same machine and
install agree exactly; a refactor that keeps behaviour must keep every hash. Triton runs
under the interpreter on CPU (TRITON_INTERPRET=1 is set here when no GPU is asked for).
"""
import argparse
import hashlib
import json
import os
import sys

os.environ.setdefault("TRITON_INTERPRET", "1")

import torch  # noqa: E402

import wmkernels as wmk  # noqa: E402
from wmkernels import _backend  # noqa: E402

P, N, T, D, A = 3, 5, 4, 7, 3
ACTIVATIONS = ("relu", "silu", "gelu", "tanh", "elu")
SKIPS = ("identity", "matrix")


def _model(activation, skip, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    sizes = [D + A, 19, 13, D]
    weights = [torch.randn(i, o, generator=gen, dtype=torch.float64) / i ** 0.5 for i, o in zip(sizes, sizes[1:])]
    biases = [0.1 * torch.randn(o, generator=gen, dtype=torch.float64) for o in sizes[1:]]
    s = None if skip == "identity" else (torch.eye(D, dtype=torch.float64)
                                         + 0.1 * torch.randn(D, D, generator=gen, dtype=torch.float64))
    cast = lambda t: None if t is None else t.to(dtype)  # noqa: E731
    return wmk.MLPWorldModel([cast(w) for w in weights], [cast(b) for b in biases], activation, cast(s))


def _tensors(dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64).to(dtype)  # noqa: E731
    return r(P, D), r(P, D), 0.5 * r(P, N, T, A)


def _digest(outputs):
    h = hashlib.sha256()
    for t in outputs:
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def cases(backend, dtype):
    """(name, thunk) pairs; each thunk returns the op's output tensors."""
    obj = wmk.Objective(mode="all", base=0.5, action_penalty=0.01, lo=-1.0, hi=1.0)
    for i, act in enumerate(ACTIVATIONS):
        for skip in SKIPS:
            model = _model(act, skip, dtype, seed=10 + i)
            z0, goal, actions = _tensors(dtype, seed=20 + i)
            tag = f"{act}-{skip}"
            yield f"rollout/{tag}", lambda: wmk.ops.rollout(model, z0, actions, goal, obj, return_states=True,
                                                             backend=backend)
            yield f"rollout_grad/{tag}", lambda: wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
            if skip == "identity" and act in ("relu", "tanh"):
                for opt in ("adam", "sgd"):
                    yield f"gbp_plan/{tag}/{opt}", lambda: wmk.ops.gbp_plan(
                        model, z0, goal, obj, actions, iters=6, lr=0.1, optimizer=opt, noise=0.01, seed=7,
                        backend=backend)
                mean, std = actions[:, 0].clone(), torch.full_like(actions[:, 0], 0.5)
                yield f"cem_plan/{tag}", lambda: wmk.ops.cem_plan(
                    model, z0, goal, obj, mean, std, samples=24, elites=5, iters=4, momentum=0.1, seed=3,
                    backend=backend)
                yield f"mppi_plan/{tag}", lambda: wmk.ops.mppi_plan(
                    model, z0, goal, obj, mean, std, samples=24, iters=4, temperature=0.5, momentum=0.1, seed=3,
                    backend=backend)
    gen = torch.Generator().manual_seed(5)
    shape = (P, N, T, A)
    a, g, m, v, noise = (torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype) for _ in range(5))
    v = v.abs()

    def adam():
        out = [a.clone(), m.clone(), v.clone()]
        wmk.ops.adam_step(out[0], g, out[1], out[2], step=3, lr=0.05, lo=-1.0, hi=1.0, noise=noise,
                          backend=backend)
        return out
    yield "adam_step", adam


def fingerprints():
    out = {}
    for backend in _backend.BACKENDS:
        if _backend.unavailable_reason(backend, "cpu") is not None:
            continue
        for dtype in (torch.float32, torch.float64):
            for name, thunk in cases(backend, dtype):
                result = thunk()
                result = result if isinstance(result, (tuple, list)) else (result,)
                out[f"{backend}/{str(dtype)[6:]}/{name}"] = _digest(result)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "compare"))
    parser.add_argument("file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    current = fingerprints()
    if args.action == "save":
        with open(args.file, "w") as f:
            json.dump(current, f, indent=1, sort_keys=True)
        print(f"{len(current)} fingerprints written to {args.file}")
        return 0
    with open(args.file) as f:
        saved = json.load(f)
    changed = sorted(k for k in saved if k in current and saved[k] != current[k])
    missing = sorted(set(saved) - set(current))
    for k in changed:
        print(f"CHANGED {k}: {saved[k]} -> {current[k]}")
    for k in missing:
        print(f"NOT RUN {k}")
    same = len(saved) - len(changed) - len(missing)
    print(f"{same} identical, {len(changed)} changed, {len(missing)} not run, of {len(saved)}")
    return 1 if changed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
