"""Mutation testing of the core Python modules with mutmut (`make mutate`, docs/mutation.md).

    python tests/mutation/mutate.py                 # every module in MODULES
    python tests/mutation/mutate.py random sampling # some of them
    python tests/mutation/mutate.py --list
    python tests/mutation/mutate.py --survivors trainer   # after new tests: rerun the last survivors

Each module runs in its own copy of the tracked files (plus the built extension) under
build/mutate/<name>/, so the working tree is never mutated, and its mutants run only the test
files relevant to it (MODULES), stopping at the first failure. A module may list stages: a later
stage (slow tests, e.g. two-process training) runs only for a mutant the earlier ones missed.
Prints killed / survived / total per module (mutmut's "suspicious" and "timeout" count as killed:
the tests noticed) and writes build/mutate/<name>/survivors.txt with the diff of every surviving
mutant.
"""
import argparse
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTEST = "-m pytest -x -q -p no:cacheprovider"
NOT_TRITON = "-k 'not triton'"   # the interpreter is slow; naive code is reached through the other backends

# name: (file to mutate, test files and options its mutants run, or a tuple of such stages)
MODULES = {
    "random": ("wmkernels/_random.py", "tests/test_random.py tests/ops/test_cem_refit.py"),
    "objective": ("wmkernels/objective.py", "tests/test_objective.py"),
    "rollouts": ("wmkernels/ops/rollouts/naive.py", f"tests/ops/test_rollouts.py {NOT_TRITON}"),
    "adam": ("wmkernels/ops/adam/naive.py", f"tests/ops/test_adam.py {NOT_TRITON}"),
    "gbp": ("wmkernels/ops/gbp/naive.py", f"tests/ops/test_gbp.py {NOT_TRITON}"),
    "sampling": ("wmkernels/ops/sampling/naive.py",
                 f"tests/ops/test_cem_refit.py tests/ops/test_sampling.py {NOT_TRITON}"),
    "planners-base": ("wmkernels/planners/base.py",
                      f"tests/test_planner_settings.py tests/test_planners.py tests/ops/test_gbp.py {NOT_TRITON}"),
    "planners-gradient": ("wmkernels/planners/gradient.py",
                          f"tests/test_planner_settings.py tests/test_planners.py tests/ops/test_gbp.py {NOT_TRITON}"),
    "planners-sampling": ("wmkernels/planners/sampling.py",
                          f"tests/test_planner_settings.py tests/test_planners.py tests/ops/test_sampling.py {NOT_TRITON}"),
    "planners-cem": ("wmkernels/planners/cem.py",
                     f"tests/test_planner_settings.py tests/test_planners.py {NOT_TRITON}"),
    "planners-mppi": ("wmkernels/planners/mppi.py",
                      f"tests/test_planner_settings.py tests/test_planners.py {NOT_TRITON}"),
    "planners-mpc": ("wmkernels/planners/mpc.py",
                     f"tests/test_planner_settings.py tests/test_planners.py tests/ops/test_gbp.py {NOT_TRITON}"),
    "synthesis": ("training/synthesis.py", "tests/training/test_synthesis.py"),
    "trainer": ("training/trainer.py",
                ("tests/training/test_trainer_setup.py tests/training/test_train.py -k 'not gloo'",
                 "tests/training/test_train.py -k gloo")),
}


def _copy_tree(dest: Path) -> None:
    """The tracked files as they are in the working tree, and the built extension."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in [n for n in files.decode().split("\0") if n]:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for built in ROOT.glob("wmkernels/_C*.so"):
        shutil.copy2(built, dest / built.relative_to(ROOT))


def _counts(tree: Path):
    """(killed, survived, total, survivor ids) from mutmut's cache."""
    db = sqlite3.connect(tree / ".mutmut-cache")
    rows = db.execute("SELECT id, status FROM Mutant").fetchall()
    survived = [i for i, status in rows if status in ("bad_survived", "untested", "skipped")]
    return len(rows) - len(survived), len(survived), len(rows), survived


def run(name: str, python: str, survivors_only: bool = False) -> tuple:
    """Mutate one module in a fresh copy of the tree; with ``survivors_only``, keep the last run's
    copy and results, bring in the working tree's tests, and rerun only its surviving mutants."""
    path, stages = MODULES[name]
    tree = ROOT / "build" / "mutate" / name
    mutmut = str(Path(python).with_name("mutmut"))
    # mutmut 2 counts only exit status 1 as a kill; a mutant that breaks collection exits 2
    stages = (stages,) if isinstance(stages, str) else stages
    runner = "sh -c " + shlex.quote("; ".join(f"{python} {PYTEST} {tests} || exit 1" for tests in stages))
    command = ["nice", "-n", "10", mutmut, "run", "--paths-to-mutate", path, "--tests-dir", "tests/",
               "--runner", runner, "--no-progress"]
    if survivors_only:
        if not (tree / ".mutmut-cache").exists():
            raise SystemExit(f"{name}: no earlier run in {tree} to rerun the survivors of")
        shutil.copytree(ROOT / "tests", tree / "tests", dirs_exist_ok=True)
        for mutant in _counts(tree)[3]:
            subprocess.run(command[:5] + [str(mutant)] + command[5:], cwd=tree)
    else:
        _copy_tree(tree)
        subprocess.run(command, cwd=tree)
    killed, survived, total, ids = _counts(tree)
    with open(tree / "survivors.txt", "w") as out:
        for i in ids:
            diff = subprocess.run([mutmut, "show", str(i)], cwd=tree, capture_output=True, text=True).stdout
            out.write(f"--- mutant {i}\n{diff}\n")
    return killed, survived, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"names among {', '.join(MODULES)} (default: all)")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with wmkernels and mutmut")
    parser.add_argument("--survivors", action="store_true",
                        help="rerun only the last run's surviving mutants, against the working tree's tests")
    args = parser.parse_args(argv)
    if args.list:
        for name, (path, stages) in MODULES.items():
            print(f"{name:18} {path:36} {' | then: '.join((stages,) if isinstance(stages, str) else stages)}")
        return
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown modules {unknown}; choose among {', '.join(MODULES)}")
    results = {name: run(name, args.python, args.survivors) for name in (args.modules or MODULES)}
    print(f"\n{'module':18} {'killed':>7} {'survived':>9} {'total':>6} {'score':>6}")
    for name, (killed, survived, total) in results.items():
        print(f"{name:18} {killed:7} {survived:9} {total:6} {killed / max(total, 1):6.1%}")


if __name__ == "__main__":
    main()
