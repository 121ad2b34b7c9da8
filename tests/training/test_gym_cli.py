"""A gymnasium MuJoCo env end to end through the command lines: collect, train, ship, evaluate, and
MPC in the real gymnasium env (examples/mpc_gym.py)."""
import csv
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mujoco")

from training.config import ConfigError  # noqa: E402
from training.evaluate import parse_args  # noqa: E402
from training.train import main as train_main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True, timeout=300).stdout


def test_collect_train_ship_and_evaluate_a_gym_env_through_the_cli(tmp_path, monkeypatch, capsys):
    data, run, models = tmp_path / "reacher.npz", tmp_path / "runs" / "gym-Reacher-v5-offline", tmp_path / "models"
    cli("training.data", "collect", "--env", "gym:Reacher-v5", "--episodes", "12", "--length", "30", "--out", data)
    train = ["--env", "gym:Reacher-v5", "--data", data, "--epochs", "2", "--widths", "32", "--batch", "64",
             "--window", "2", "--threads", "1", "--out", run]
    out = cli("training.train", *train)
    assert f"into {run}:" in out and "epoch 2/2: train" in out and f"wrote {run / 'model.wmk'}" in out
    with pytest.raises(ConfigError, match="already holds a training run"):
        train_main(list(map(str, train)))

    assert "gym-reacher-v5-offline.wmk" in cli("training.evaluate", "--ship", run, "--models-dir", models)
    evaluation = ["training.evaluate", "--env", "gym:Reacher-v5", "--models-dir", models, "--planner", "adam",
                  "cem", "none", "--mode", "mpc", "--tasks", "3", "--goal-steps", "2", "--success-tol", "0.5",
                  "--threads", "1", "--out", tmp_path / "eval", "--no-progress"]
    for s in ("adam.iters=5", "cem.iters=2", "cem.samples=16", "cem.elites=4"):
        evaluation += ["--set", s]
    report = cli(*evaluation)
    assert "| model | gym:Reacher-v5 (Adam / CEM / none) |" in report and "| offline + MPC |" in report
    with open(tmp_path / "eval" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["planner"] for r in rows] == ["adam", "cem", "none"]
    for r in rows:
        assert r["env"] == "gym:Reacher-v5" and r["tasks"] == "3" and r["steps"] == "4"
        assert r["success"] == "||(qpos:joint0°, qpos:joint1°, qpos:target_x, qpos:target_y)|| < 0.5"
        assert json.loads(r["objective"]) == {"mode": "all", "base": 0.5, "weights": None}
        assert 0 <= float(r["success_rate"]) <= 1

    gif = tmp_path / "mpc.gif"
    monkeypatch.setattr(sys, "argv", ["mpc_gym.py", str(run / "model.wmk"), "--goal-steps", "1", "--steps", "2",
                                      "--out", str(gif)])
    capsys.readouterr()
    runpy.run_path(str(REPO / "examples" / "mpc_gym.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("gym:Reacher-v5, success: ||(qpos:joint0°")
    assert [line.split(":")[0] for line in lines[1:4]] == ["step 0", "step 1", "step 2"]
    assert all(float(line.split("goal ")[1].split()[0]) >= 0 for line in lines[1:4])
    import imageio.v3 as iio

    assert iio.imread(gif).shape[0] == 1 + 2 * 5            # the start, then every env step


def test_task_flags_are_for_gym_envs_only(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--env", "Wall", "--goal-steps", "2"])
    assert "--goal-steps set the tasks of a gym:<id> env" in capsys.readouterr().err
