"""Planning evaluation (training/evaluate/): a blind episode loop, scoring, objective, model files, report."""
import csv
import functools
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

import mujoco  # noqa: E402

import wmkernels  # noqa: E402
from training import evaluate as ev  # noqa: E402
from training.envs import make  # noqa: E402
from training.envs.success import default_success  # noqa: E402
from training.envs.wall import MAX_ACTION, Wall  # noqa: E402
from training.model_info import model_metadata  # noqa: E402
from training.models import Normalizer  # noqa: E402

WALL = ev.ENV_SPECS["Wall"]
TINY = {"gd.iters": "3", "adam.iters": "3", "cem.iters": "2", "cem.samples": "8", "cem.elites": "2",
        "mppi.iters": "2", "mppi.samples": "8"}


class FreeBody:
    """A gym-named env whose only joint is free: no default success dims."""

    name = "gym:FreeBody-v0"

    @property
    def success(self):
        xml = '<mujoco><worldbody><body><freejoint/><geom size="0.1"/></body></worldbody></mujoco>'
        return default_success(mujoco.MjModel.from_xml_string(xml), self.name, 0.1)


class BlindWall(Wall):
    """A Wall whose success signal must never be read."""

    def is_success(self, state, goal):
        raise AssertionError("the success signal was read")


def tiny_model(state_dim, action_dim, seed=0, width=16):
    g = torch.Generator().manual_seed(seed)
    weights = [0.3 * torch.randn(state_dim + action_dim, width, generator=g),
               0.05 * torch.randn(width, state_dim, generator=g)]
    return wmkernels.MLPWorldModel(weights, [torch.zeros(width), torch.zeros(state_dim)], "tanh")


def save_model(folder, name, model, env="Wall", state_std=(0.5, 0.5), num_hist=1, frameskip=5,
               action_stats=True):
    """The model file and its sidecar; with action_stats, action mean 0.05 and std 0.7 per dim."""
    path = folder / f"{name}.wmk"
    model.save(path)
    sidecar = {"env": env, "method": name.split("-")[-1], "num_hist": num_hist, "frameskip": frameskip,
               "state_std": list(state_std)}
    if action_stats:
        sidecar.update(action_mean=[0.05] * model.action_dim, action_std=[0.7] * model.action_dim)
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


@pytest.mark.parametrize("mode", ev.MODES)
@pytest.mark.parametrize("planner", ev.PLANNERS)
def test_episode_loop_runs_blind_in_lockstep_and_replays_exactly(planner, mode):
    envs = [BlindWall() for _ in range(3)]
    starts, goals = ev.make_tasks(envs[0], 3, seed=7)
    settings = ev.apply_overrides(ev.default_settings(planner, mode, WALL), planner, TINY)
    objective = ev.ObjectiveSettings().build(envs[0], (0, 1), [0.5, 0.5], 1, settings.horizon)
    built = settings.build(tiny_model(2, 10, seed=1), objective, seed=2, backend="auto")
    steps, execute = (5, 5) if mode == "open-loop" else (7, settings.execute)
    episodes = ev.run_episodes(envs, built, starts, goals, steps, execute)

    assert episodes.final_states.shape == (3, 2) and np.isfinite(episodes.final_states).all()
    assert episodes.actions.shape == (3, steps, 10) and episodes.nonfinite == 0
    assert len(episodes.call_seconds) == -(-steps // execute)  # one batched call per replan
    assert all(t > 0 for t in episodes.call_seconds)
    assert episodes.backend in wmkernels._backend.BACKENDS
    assert not np.allclose(episodes.final_states, starts)
    replay = Wall()
    chunk_ends = [min(steps, c + execute) for c in range(0, steps, execute)]   # where MPC replans, and the end
    assert episodes.boundary_states.shape == (3, len(chunk_ends), 2)
    for start, actions, final, boundary in zip(starts, episodes.actions, episodes.final_states,
                                               episodes.boundary_states):
        replay.set_state(start)
        visited = [replay.step(action) for action in actions]
        np.testing.assert_allclose(visited[-1], final, rtol=0, atol=1e-12)
        np.testing.assert_allclose(boundary, [visited[t - 1] for t in chunk_ends], rtol=0, atol=1e-12)
    with pytest.raises(AssertionError, match="success signal"):
        ev.score(envs[0], episodes.final_states, goals)


def test_open_loop_executes_one_plan_for_all_tasks():
    envs = [Wall() for _ in range(4)]
    starts, goals = ev.make_tasks(envs[0], 4, seed=1)
    model = tiny_model(2, 10, seed=3)
    settings = ev.apply_overrides(ev.default_settings("adam", "open-loop", WALL), "adam", TINY)
    objective = ev.ObjectiveSettings().build(envs[0], (0, 1), np.ones(2), 1, 5)
    built = settings.build(model, objective, seed=5, backend="auto")
    episodes = ev.run_episodes(envs, built, starts, goals, 5, 5)
    plan = built.plan(torch.tensor(starts, dtype=torch.float32), torch.tensor(goals, dtype=torch.float32))
    np.testing.assert_allclose(episodes.actions, plan.actions.double().numpy(), rtol=0, atol=0)


def test_score_applies_is_success_to_each_final_state():
    calls = []

    def is_success(state, goal):
        calls.append((state.copy(), goal.copy()))
        return bool(state[0] > goal[0])

    rng = np.random.default_rng(4)
    finals, goals = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    success = ev.score(SimpleNamespace(is_success=is_success), finals, goals)
    np.testing.assert_array_equal(success, finals[:, 0] > goals[:, 0])
    assert success.dtype == bool and len(calls) == 6
    np.testing.assert_array_equal(calls[2][0], finals[2])


def test_anytime_success_is_latched_over_the_replanning_boundaries():
    def is_success(state, goal):
        return bool(abs(state[0] - goal[0]) < 0.5)

    goals = np.zeros((4, 2))
    boundary = np.array([[[3, 0], [0.1, 0], [2, 0]],      # reached mid-episode, then left: any-time only
                         [[3, 0], [2, 0], [0.2, 0]],      # reached at the end: both
                         [[0.0, 0], [1, 0], [1, 0]],      # reached at the first boundary only
                         [[1, 0], [2, 0], [3, 0]]])       # never
    env = SimpleNamespace(is_success=is_success)
    np.testing.assert_array_equal(ev.score_anytime(env, boundary, goals), [True, True, True, False])
    np.testing.assert_array_equal(ev.score(env, boundary[:, -1], goals), [False, True, False, False])


def _wilson_by_inversion(k, n, z):
    """The ends of the p0 in [0, 1] where the score test |k/n - p0| <= z sqrt(p0 (1 - p0) / n) holds,
    by bisection (the definition of the Wilson interval, not its closed form)."""
    inside = lambda p0: abs(k / n - p0) <= z * np.sqrt(p0 * (1 - p0) / n)

    def boundary(outside, inner):
        for _ in range(200):
            mid = (outside + inner) / 2
            outside, inner = (outside, mid) if inside(mid) else (mid, inner)
        return inner

    p_hat = k / n
    return (0.0 if k == 0 else boundary(0.0, p_hat)), (1.0 if k == n else boundary(1.0, p_hat))


@pytest.mark.parametrize("k,n", [(0, 50), (1, 50), (39, 50), (50, 50), (3, 7), (1, 1), (0, 1), (500, 1234)])
def test_wilson_interval_inverts_the_score_test(k, n):
    from training.evaluate.stats import Z95, wilson_interval

    from statistics import NormalDist
    assert Z95 == pytest.approx(NormalDist().inv_cdf(0.975), rel=1e-15)
    low, high = wilson_interval(k, n)
    ref_low, ref_high = _wilson_by_inversion(k, n, Z95)
    assert low == pytest.approx(ref_low, abs=1e-12) and high == pytest.approx(ref_high, abs=1e-12)
    assert 0 <= low <= k / n <= high <= 1
    assert (low == 0) == (k == 0) and (high == 1) == (k == n)


@pytest.mark.parametrize("k,n,match", [(3, 0, "trials"), (-1, 5, "successes"), (6, 5, "successes"),
                                       (2.0, 5, "successes"), (1, 2.5, "trials")])
def test_wilson_interval_refuses_bad_counts(k, n, match):
    from training.evaluate.stats import wilson_interval

    with pytest.raises(ValueError, match=match):
        wilson_interval(k, n)


def _paired(a, b, c, d):
    """Outcomes of two runs on a + b + c + d tasks: a solved by both, b by the first only, c by the
    second only, d by neither."""
    first = np.array([True] * (a + b) + [False] * (c + d))
    second = np.array([True] * a + [False] * b + [True] * c + [False] * d)
    return first, second


@pytest.mark.parametrize("a,b,c,d", [(60000, 3000, 1000, 36000), (20000, 20000, 25000, 35000), (900, 50, 40, 10)])
def test_paired_difference_interval_approaches_the_paired_wald_interval(a, b, c, d):
    from training.evaluate.stats import Z95, paired_difference_interval

    n = a + b + c + d
    change = (b - c) / n
    half = Z95 * np.sqrt((b + c) - (b - c) ** 2 / n) / n        # Var of the mean of the paired differences
    got = paired_difference_interval(*_paired(a, b, c, d))
    assert got[0] == pytest.approx(change, abs=1e-15)
    rel = 0.05 if n < 10000 else 0.002
    assert got[1] == pytest.approx(change - half, abs=rel * half)
    assert got[2] == pytest.approx(change + half, abs=rel * half)


@pytest.mark.parametrize("cells", [(0.55, 0.05, 0.15, 0.25), (0.3, 0.2, 0.1, 0.4), (0.8, 0.02, 0.08, 0.1)])
def test_paired_difference_interval_covers_the_true_difference(cells):
    """Exact coverage over every table of 30 tasks drawn from the cell probabilities."""
    from math import lgamma, log, exp

    from training.evaluate.stats import paired_difference_interval

    n, truth, covered = 30, cells[1] - cells[2], 0.0
    for a in range(n + 1):
        for b in range(n + 1 - a):
            for c in range(n + 1 - a - b):
                counts = (a, b, c, n - a - b - c)
                log_p = lgamma(n + 1) + sum(k * log(p) - lgamma(k + 1) for k, p in zip(counts, cells))
                _, low, high = paired_difference_interval(*_paired(*counts))
                covered += exp(log_p) * (low <= truth <= high)
    assert 0.93 <= covered <= 0.99


def test_paired_difference_interval_is_antisymmetric_and_square_and_add_when_uncorrelated():
    from training.evaluate.stats import paired_difference_interval, wilson_interval

    rng = np.random.default_rng(7)
    first, second = rng.random(37) < 0.6, rng.random(37) < 0.4
    change, low, high = paired_difference_interval(first, second)
    assert paired_difference_interval(second, first) == pytest.approx((-change, -high, -low), abs=1e-12)
    a, b, c, d = 5, 5, 5, 5                                   # ad - bc = 0: no correlation to correct for
    (l1, u1), (l2, u2) = wilson_interval(10, 20), wilson_interval(10, 20)
    half = np.hypot(0.5 - l1, u2 - 0.5)
    assert paired_difference_interval(*_paired(a, b, c, d)) == pytest.approx((0.0, -half, half), abs=1e-12)
    same = rng.random(41) < 0.5                               # identical runs: a narrower interval about 0
    change, low, high = paired_difference_interval(same, same)
    assert change == 0 and -half < low < 0 < high < half


@pytest.mark.parametrize("first,second,match", [
    ([True, False], [True], "same tasks"), ([1, 0], [1, 0], "first must be"), ([], [], "first must be"),
    ([True], np.ones((1, 1), bool), "second must be")])
def test_paired_difference_interval_refuses_bad_outcomes(first, second, match):
    from training.evaluate.stats import paired_difference_interval

    with pytest.raises(ValueError, match=match):
        paired_difference_interval(np.asarray(first, dtype=bool) if match == "same tasks" else np.asarray(first),
                                   np.asarray(second))


def test_report_change_table_pairs_the_task_outcomes(tmp_path):
    rng = np.random.default_rng(3)
    solved = {k: rng.random(23) < p for k, p in (("cem", 0.8), ("offline", 0.5), ("online", 0.6))}

    def row(model, planner, key, mode="mpc"):
        return {"env": "Wall", "model": model, "planner": planner, "mode": mode,
                "task_anytime_successes": ev.report.outcome_text(solved[key])}

    rows = [row("offline", "cem", "cem"), row("offline", "adam", "offline"), row("online", "adam", "online"),
            row("online", "cem", "online"), row("offline", "adam", "cem", mode="open-loop")]
    table = ev.report.change_table(rows).splitlines()
    assert table[0] == ("| env | Adam, online - Adam, offline | Adam, offline - CEM, offline "
                        "| Adam, online - CEM, offline |")
    from training.evaluate.stats import paired_difference_interval
    cell = lambda x, y: "{:+.0f} [{:+.0f}, {:+.0f}]".format(
        *(100 * v for v in paired_difference_interval(solved[x], solved[y])))
    assert table[2] == f"| Wall | {cell('online', 'offline')} | {cell('offline', 'cem')} | {cell('online', 'cem')} |"
    rows[2]["task_anytime_successes"] = ""                   # a row without per-task outcomes
    assert ev.report.change_table(rows).splitlines()[2] == f"| Wall | - | {cell('offline', 'cem')} | - |"
    assert ev.report.plot_changes(rows, tmp_path / "changes.png") and (tmp_path / "changes.png").stat().st_size > 0
    for r in rows:
        r["task_anytime_successes"] = ""
    assert not ev.report.plot_changes(rows, tmp_path / "none.png") and not (tmp_path / "none.png").exists()
    np.testing.assert_array_equal(ev.report.outcomes(ev.report.outcome_text(solved["cem"])), solved["cem"])
    with pytest.raises(ev.EvaluationError, match="0s and 1s"):
        ev.report.outcomes("1 0 2")


def test_report_headline_puts_adam_on_each_model_beside_offline_cem_with_intervals():
    def row(model, planner, anytime, seconds, mode="mpc"):
        return {"env": "Wall", "model": model, "planner": planner, "mode": mode, "tasks": 50,
                "anytime_successes": anytime, "episode_s": seconds}

    rows = [row("offline", "cem", 24, 8.0), row("offline", "adam", 19, 2.0), row("online", "adam", 30, 1.0),
            row("adversarial", "cem", 50, 0.5), row("offline", "adam", 50, 0.1, mode="open-loop")]
    table = ev.report.headline_table(rows).splitlines()
    assert table[0] == ("| env | CEM + MPC, offline | Adam + MPC, offline | Adam + MPC, online | "
                        "Adam + MPC, adversarial | Adam time / CEM time (offline / online / adversarial) |")
    from training.evaluate.stats import wilson_interval
    cell = lambda k: "{:.0f} [{:.0f}, {:.0f}]".format(2 * k, *(100 * v for v in wilson_interval(k, 50)))
    assert table[2] == f"| Wall | {cell(24)} | {cell(19)} | {cell(30)} | - | 0.25 / 0.12 / - |"


def test_objective_weights_goal_dims_of_newest_frame_and_tiles_bounds():
    env = SimpleNamespace(state_dim=3, frameskip=3, action_low=np.array([-1.0, -2.0]),
                          action_high=np.array([1.0, 0.5]))
    std = np.array([2.0, 4.0, 0.5])
    resolved = ev.ObjectiveSettings().build(env, (0, 2), std, 2, 5).resolve(5, 6, 6, dtype=torch.float64)
    np.testing.assert_allclose(resolved.state_weights.numpy(), [0, 0, 0, 0.25, 0, 4.0])
    np.testing.assert_allclose(resolved.step_weights.numpy(), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(resolved.lo.numpy(), [-1, -2] * 3)
    np.testing.assert_allclose(resolved.hi.numpy(), [1, 0.5] * 3)
    every = ev.ObjectiveSettings("all", 0.5).build(env, (0,), std, 1, 4).resolve(4, 3, 6, dtype=torch.float64)
    np.testing.assert_allclose(every.step_weights.numpy(), [1, 0.5, 0.25, 0.125])
    given = ev.ObjectiveSettings(weights=(0, 1, 2)).build(env, (0,), std, 1, 3).resolve(3, 3, 6, dtype=torch.float64)
    np.testing.assert_allclose(given.step_weights.numpy(), [0, 1, 2])
    with pytest.raises(ev.EvaluationError, match="weights has 3 entries but the planner's horizon is 5"):
        ev.ObjectiveSettings(weights=(0, 1, 2)).build(env, (0,), std, 1, 5)
    with pytest.raises(ev.EvaluationError, match="unknown objective mode 'first'"):
        ev.ObjectiveSettings("first")
    with pytest.raises(ev.EvaluationError, match="objective base must be > 0"):
        ev.ObjectiveSettings("all", 0.0)


def test_unwrap_goals_takes_the_short_way_round():
    states = np.array([[0.0, 0.2], [5.0, 6.1], [1.0, 3.0]])
    goals = np.array([[9.0, 6.0], [1.0, 0.1], [2.0, 3.5]])
    unwrapped = ev.unwrap_goals(goals, states, (1,))
    np.testing.assert_allclose(unwrapped[:, 0], goals[:, 0])
    np.testing.assert_allclose(unwrapped[:, 1], [6.0 - 2 * np.pi, 0.1 + 2 * np.pi, 3.5])
    assert np.all(np.abs(unwrapped[:, 1] - states[:, 1]) <= np.pi)


def test_tasks_are_a_fixed_seeded_list():
    env = Wall()
    a, b, c = (ev.make_tasks(env, 5, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    assert a[0].shape == a[1].shape == (5, 2)


def test_bad_inputs_are_named(tmp_path):
    env = Wall()
    with pytest.raises(ev.EvaluationError, match="missing.wmk does not exist"):
        ev.load_model(tmp_path / "missing.wmk", "cpu")
    corrupt = tmp_path / "corrupt.wmk"
    corrupt.write_bytes(b"WMK1" + b"\x00" * 20)
    with pytest.raises(ev.EvaluationError, match="corrupt.wmk"):
        ev.load_model(corrupt, "cpu")
    wrong = save_model(tmp_path, "wall-offline", tiny_model(5, 10))
    with pytest.raises(ev.EvaluationError, match="needs state 2 and action 10"):
        ev.check_model(ev.load_model(wrong, "cpu"), env)
    other_env = save_model(tmp_path, "pointmaze-offline", tiny_model(2, 10), env="PointMaze")
    with pytest.raises(ev.EvaluationError, match="trained on PointMaze"):
        ev.check_model(ev.load_model(other_env, "cpu"), env)
    skipped = save_model(tmp_path, "wall-online", tiny_model(2, 10), frameskip=2)
    with pytest.raises(ev.EvaluationError, match="frameskip 2 but Wall runs with 5"):
        ev.check_model(ev.load_model(skipped, "cpu"), env)
    no_sidecar = tmp_path / "bare.wmk"
    tiny_model(2, 10).save(no_sidecar)
    with pytest.raises(ev.EvaluationError, match="bare.json"):
        ev.load_model(no_sidecar, "cpu")
    with pytest.raises(ev.EvaluationError, match="unknown env 'Maze'.*gym:<id>"):
        ev.evaluate("Maze", [wrong])
    with pytest.raises(ev.EvaluationError, match="no default success dims.*--success-dims"):
        ev.env_spec(FreeBody())
    with pytest.raises(ev.EvaluationError, match="unknown planner 'ilqr'"):
        ev.evaluate("Wall", [wrong], planners=("ilqr",))
    with pytest.raises(ev.EvaluationError, match="unknown mode 'closed'"):
        ev.evaluate("Wall", [wrong], modes=("closed",))
    with pytest.raises(ev.EvaluationError, match="no setting 'rate'"):
        ev.apply_overrides(ev.default_settings("gd", "mpc", WALL), "gd", {"gd.rate": "1"})
    with pytest.raises(ev.EvaluationError, match="'many' is not a valid iters"):
        ev.apply_overrides(ev.default_settings("cem", "mpc", WALL), "cem", {"cem.iters": "many"})
    with pytest.raises(ev.EvaluationError, match="planner.field=value"):
        ev.parse_overrides(["lr=1"])


def test_ship_writes_a_model_and_sidecar_that_evaluation_loads(tmp_path):
    run = tmp_path / "Wall-offline"
    run.mkdir()
    model = tiny_model(2, 10, seed=9)
    model.save(run / "model.wmk")
    config = {"env": "Wall", "method": "offline", "num_hist": 1, "frameskip": None, "widths": [16]}
    (run / "config.json").write_text(json.dumps(config))
    std = torch.tensor([0.6, 0.5])
    action_mean, action_std = torch.linspace(-0.1, 0.1, 10), torch.linspace(0.3, 0.6, 10)
    torch.save({"normalizer": {"state_std": std, "action_mean": action_mean, "action_std": action_std},
                "action_dim": 10}, run / "model.pt")

    shipped = ev.ship(run, tmp_path / "models")
    assert shipped == tmp_path / "models" / "wall-offline.wmk"
    sidecar = json.loads(shipped.with_suffix(".json").read_text())
    assert sidecar["frameskip"] == 5 and sidecar["train_config"] == config
    for path in (shipped, run / "model.wmk"):
        loaded = ev.load_model(path, "cpu")
        ev.check_model(loaded, Wall())
        assert loaded.label == "offline" and loaded.num_hist == 1
        np.testing.assert_allclose(loaded.state_std, std.double().numpy())
        np.testing.assert_allclose(loaded.action_scale.mean, action_mean.double().numpy())
        np.testing.assert_allclose(loaded.action_scale.std, action_std.double().numpy())
        torch.testing.assert_close(loaded.model.weights[0], model.weights[0])
    assert ev.find_models(tmp_path / "models", "wall") == [shipped]


def test_cli_writes_results_table_and_plot(tmp_path):
    path = save_model(tmp_path, "wall-offline", tiny_model(2, 10, seed=4))
    sets = [f"{k}={v}" for k, v in TINY.items() if k.split(".")[0] in ("adam", "cem")]
    argv = ["--env", "wall", "--model", str(path), "--planner", "adam", "cem", "--tasks", "2", "--seed", "1",
            "--device", "cpu", "--out", str(tmp_path / "out"), "--no-progress"]
    rows = ev.main(argv + [x for s in sets for x in ("--set", s)])

    assert [(r["planner"], r["mode"]) for r in rows] == [
        ("adam", "open-loop"), ("adam", "mpc"), ("cem", "open-loop"), ("cem", "mpc")]
    for r in rows:
        assert r["env"] == "Wall" and r["model"] == "offline" and r["tasks"] == 2
        assert 0 <= r["success_rate"] <= 1 and r["successes"] == round(2 * r["success_rate"])
        assert r["successes"] <= r["anytime_successes"] == round(2 * r["anytime_success_rate"])
        assert r["steps"] == (5 if r["mode"] == "open-loop" else ev.ENV_SPECS["Wall"].mpc_steps)
        assert r["episode_s"] >= r["call_s_median"] > 0 and r["backend"] in wmkernels._backend.BACKENDS
        assert r["device"].startswith("cpu (")
        solved, anytime = (ev.report.outcomes(r[k]) for k in ("task_successes", "task_anytime_successes"))
        assert len(solved) == 2 and solved.sum() == r["successes"] and anytime.sum() == r["anytime_successes"]
        assert not (solved & ~anytime).any()
    assert json.loads(rows[3]["settings"])["iters"] == 2 and rows[3]["calls"] == 4
    assert json.loads(rows[1]["settings"])["lr"] == 0.2 and json.loads(rows[0]["settings"])["lr"] == 0.3
    out = tmp_path / "out"
    with open(out / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    with open(out / "results.csv") as f:
        header = next(csv.reader(f))
    assert header.index("anytime_successes") == header.index("success_rate") + 1
    markdown = (out / "results.md").read_text()
    assert "## Adam under MPC against CEM under MPC on the offline model" in markdown
    assert "| env | Adam, offline - CEM, offline |" in markdown    # one model: only Adam's change from CEM
    assert "| model | Wall (Adam / CEM) |" in markdown
    assert "| offline, open-loop |" in markdown and "| offline + MPC |" in markdown
    assert (out / "success_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "paired_changes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def save_gym_run(folder, env, model, method="offline"):
    """A training run folder as training writes it: model.wmk with metadata, config.json."""
    folder.mkdir(parents=True)
    S, kA = env.state_dim, env.planner_action_dim
    norm = Normalizer(np.zeros(S), np.full(S, 0.5), np.zeros(kA), np.ones(kA), np.zeros(S), np.ones(S))
    config = {"env": env.name, "method": method, "num_hist": 1}
    model.metadata = model_metadata(env, {}, config, norm, env.frameskip)
    model.save(folder / "model.wmk")
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "model.wmk"


def test_do_nothing_baseline_executes_zero_actions():
    envs = [make("gym:Reacher-v5") for _ in range(3)]
    starts, _ = ev.make_tasks(envs[0], 3, seed=2)
    episodes = ev.run_idle(envs, starts, 4)
    reference = make("gym:Reacher-v5")
    for start, final in zip(starts, episodes.final_states):
        reference.set_state(start)
        for _ in range(4 * reference.frameskip):
            reference.sim.step(np.zeros(2))
        np.testing.assert_allclose(final, reference.get_state(), rtol=0, atol=1e-12)
    assert episodes.actions.shape == (3, 4, 10) and not episodes.actions.any() and episodes.call_seconds == []


def test_gym_env_evaluates_with_its_own_success_spec_and_task_settings(tmp_path):
    env = make("gym:Reacher-v5")
    path = save_gym_run(tmp_path / "gym-Reacher-v5-offline", env, tiny_model(8, 10, seed=6))
    rows = ev.evaluate("gym:Reacher-v5", [path], planners=("adam", "none"), modes=("mpc",), tasks=3, seed=1,
                       device="cpu", overrides=TINY, progress=False,
                       task_kwargs={"goal_steps": 2, "success_dims": [0, 1], "success_tol": 0.3},
                       objective=ev.ObjectiveSettings("all", 0.5))
    assert [(r["model"], r["planner"]) for r in rows] == [("offline", "adam"), ("offline", "none")]
    for r in rows:
        assert r["steps"] == r["mpc_steps"] == 4 and json.loads(r["goal_dims"]) == [0, 1]
        assert json.loads(r["angle_dims"]) == [0]    # joint0 turns freely; joint1 is limited
        assert r["success"] == "||(qpos:joint0°, qpos:joint1°)|| < 0.3"
        assert json.loads(r["objective"]) == {"mode": "all", "base": 0.5, "weights": None}
    assert rows[1]["backend"] == "none" and rows[1]["calls"] == 0
    # scored with the wrapped error over the chosen dims: the same as an independent computation
    envs = ev.make_envs("gym:Reacher-v5", 3, goal_steps=2)
    starts, goals = ev.make_tasks(envs[0], 3, seed=1)
    finals = ev.run_idle(envs, starts, 4).final_states
    error = np.angle(np.exp(1j * (finals[:, :2] - goals[:, :2])))
    assert rows[1]["successes"] == int((np.linalg.norm(error, axis=1) < 0.3).sum())
    markdown = ev.report_markdown(rows)
    assert "| model | gym:Reacher-v5 (Adam / none) |" in markdown and "qpos:joint0°" in markdown


def test_ship_of_a_gym_run_writes_a_safe_file_name_that_evaluation_finds(tmp_path):
    env = make("gym:Reacher-v5")
    run = save_gym_run(tmp_path / "runs" / "gym-Reacher-v5-online", env, tiny_model(8, 10), "online").parent
    shipped = ev.ship(run, tmp_path / "models")
    assert shipped.name == "gym-reacher-v5-online.wmk" and not shipped.with_suffix(".json").exists()
    assert wmkernels.MLPWorldModel.load(shipped).metadata["env"] == "gym:Reacher-v5"
    assert ev.find_models(tmp_path / "models", "gym:Reacher-v5") == [shipped]
    for path in (shipped, run / "model.wmk"):
        loaded = ev.load_model(path, "cpu")
        ev.check_model(loaded, env)
        assert loaded.label == "online" and loaded.env == "gym:Reacher-v5"
        np.testing.assert_allclose(loaded.state_std, np.full(8, 0.5))


def test_action_scale_folds_into_the_first_layer():
    from training.evaluate.units import ActionScale

    g = torch.Generator().manual_seed(11)
    D, A, H = 3, 7, 9
    model = wmkernels.MLPWorldModel([torch.randn(D + A, H, generator=g, dtype=torch.float64),
                                     torch.randn(H, H, generator=g, dtype=torch.float64),
                                     torch.randn(H, D, generator=g, dtype=torch.float64)],
                                    [torch.randn(H, generator=g, dtype=torch.float64) for _ in range(2)]
                                    + [torch.randn(D, generator=g, dtype=torch.float64)], "tanh",
                                    skip=torch.randn(D, D, generator=g, dtype=torch.float64))
    mean, std = np.linspace(-0.4, 0.3, A), np.linspace(0.2, 1.7, A)
    scale = ActionScale(mean, std)
    scaled = scale.model(model)
    z, u = torch.randn(5, D, generator=g, dtype=torch.float64), torch.randn(5, A, generator=g, dtype=torch.float64)
    a = torch.as_tensor(mean) + torch.as_tensor(std) * u
    torch.testing.assert_close(scaled.step(z, u), model.step(z, a), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scale.to_env(u.numpy()), a.numpy(), rtol=0, atol=0)
    low, high = scale.bounds(-np.ones(A), np.ones(A))
    np.testing.assert_allclose(scale.to_env(low), -np.ones(A), atol=1e-15)
    np.testing.assert_allclose(scale.to_env(high), np.ones(A), atol=1e-15)
    torch.testing.assert_close(model.weights[0][D:], scaled.weights[0][D:] / torch.as_tensor(std)[:, None])  # a copy
    with pytest.raises(ev.EvaluationError, match="statistics have 2 dims, the model.s action has 7"):
        ActionScale(mean[:2], std[:2]).model(model)
    with pytest.raises(ev.EvaluationError, match="positive"):
        ActionScale(mean, -std)
    with pytest.raises(ev.EvaluationError, match="one length"):
        ActionScale(mean, std[:3])


def test_normalised_episodes_execute_the_scaled_plan_in_the_env():
    from training.evaluate.units import ActionScale

    envs = [Wall() for _ in range(3)]
    starts, goals = ev.make_tasks(envs[0], 3, seed=5)
    scale = ActionScale(np.linspace(-0.2, 0.2, 10), np.linspace(0.3, 0.8, 10))
    model = scale.model(tiny_model(2, 10, seed=2))
    settings = ev.apply_overrides(ev.default_settings("adam", "open-loop", WALL), "adam", TINY)
    objective = ev.ObjectiveSettings().build(envs[0], (0, 1), np.ones(2), 1, 5, scale)
    np.testing.assert_allclose(objective.lo.numpy(), (-MAX_ACTION - scale.mean) / scale.std)
    built = settings.build(model, objective, seed=3, backend="auto")
    to_env = functools.partial(scale.to_env, low=-np.full(10, MAX_ACTION), high=np.full(10, MAX_ACTION))
    episodes = ev.run_episodes(envs, built, starts, goals, 5, 5, to_env=to_env)
    plan = built.plan(torch.tensor(starts, dtype=torch.float32), torch.tensor(goals, dtype=torch.float32))
    raw = scale.mean + scale.std * plan.actions.double().numpy()
    assert np.abs(raw).max() > MAX_ACTION                     # the float32 bound maps back just beyond the env's
    np.testing.assert_allclose(episodes.actions, raw, rtol=0, atol=1e-7)
    assert np.abs(episodes.actions).max() == MAX_ACTION       # clipped onto it


def test_gradient_planners_weigh_every_step_and_sampling_planners_the_envs_objective():
    for name, spec in ev.ENV_SPECS.items():
        for planner in ("gd", "adam"):
            expected = ev.ObjectiveSettings() if name == "Pusher" else ev.ObjectiveSettings("all", 0.5)
            assert ev.settings.default_objective(planner, spec) == expected
        for planner in ("cem", "mppi"):
            assert ev.settings.default_objective(planner, spec) == spec.objective == ev.ObjectiveSettings()


def test_evaluation_records_objective_and_units_and_needs_action_statistics(tmp_path):
    path = save_model(tmp_path, "wall-offline", tiny_model(2, 10, seed=4))
    sets = {k: v for k, v in TINY.items() if k.split(".")[0] in ("adam", "cem")}
    rows = ev.evaluate("Wall", [path], ["adam", "cem"], ["mpc"], tasks=2, device="cpu", overrides=sets,
                       progress=False)
    assert [json.loads(r["objective"])["mode"] for r in rows] == ["all", "last"]
    assert [r["action_units"] for r in rows] == ["normalised"] * 2
    raw = ev.evaluate("Wall", [path], ["adam"], ["mpc"], tasks=2, device="cpu", overrides=sets, progress=False,
                      action_units="raw")
    assert raw[0]["action_units"] == "raw"
    (tmp_path / "bare").mkdir()
    bare = save_model(tmp_path / "bare", "wall-offline", tiny_model(2, 10, seed=4), action_stats=False)
    with pytest.raises(ev.EvaluationError, match="carries no action statistics.*--action-units raw"):
        ev.evaluate("Wall", [bare], ["adam"], ["mpc"], tasks=2, device="cpu", overrides=sets, progress=False)
    with pytest.raises(ev.EvaluationError, match="unknown action units 'metres'"):
        ev.evaluate("Wall", [path], ["adam"], ["mpc"], tasks=2, device="cpu", action_units="metres")


def _linear_dataset(episodes=20, length=24, seed=0):
    """s_{t+1} = s_t + 0.1 a_t in 2 dims, uniform random actions."""
    from training.data import Trajectories

    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(episodes, length, 2))
    states = np.concatenate([rng.normal(size=(episodes, 1, 2)), 0.1 * actions], axis=1).cumsum(axis=1)
    return Trajectories(states, actions, {"env": "Wall", "frameskip": 2, "policy": "random"})


def _loaded(model, frameskip=2):
    return ev.LoadedModel(None, "m", model, "Wall", 1, frameskip, np.ones(2))


@pytest.mark.parametrize("steps", [1, 3])
def test_accuracy_of_the_true_dynamics_is_all_and_of_a_drifting_model_none(steps):
    from training.evaluate.accuracy import held_out_episodes, rollout_accuracy

    data = _linear_dataset()
    env = SimpleNamespace(name="Linear", state_dim=2, is_success=lambda s, g: bool(np.linalg.norm(s - g) < 0.05))
    B = 0.1 * torch.cat([torch.eye(2), torch.eye(2)]).double()           # a planner step: two env steps
    exact = wmkernels.linear_world_model(torch.eye(2, dtype=torch.float64), B)
    np.testing.assert_array_equal(held_out_episodes(data, 0.1), [18, 19])
    acc = rollout_accuracy(_loaded(exact), env, data, steps, stride=3, dims=(0, 1))
    starts_per_episode = len(range(0, 24 - 2 * steps + 1, 3))
    assert (acc.windows, acc.within, acc.steps) == (2 * starts_per_episode, 2 * starts_per_episode, steps)
    assert acc.median_error.max() < 1e-6 and acc.share == 1                # windows are float32
    drifting = wmkernels.linear_world_model(torch.eye(2, dtype=torch.float64), B)
    drifting.biases[-1] += 0.04                                           # 0.04 per step and dim
    acc = rollout_accuracy(_loaded(drifting), env, data, steps, stride=3, dims=(1,))
    assert acc.within == (acc.windows if 0.04 * steps * np.sqrt(2) < 0.05 else 0)
    np.testing.assert_allclose(acc.median_error, [0.04 * steps], rtol=1e-5)
    low, high = acc.interval()
    assert low <= acc.share <= high


def test_accuracy_refuses_windows_longer_than_the_episodes_and_other_state_sizes():
    from training.evaluate.accuracy import rollout_accuracy

    data = _linear_dataset(length=6)
    env = SimpleNamespace(name="Linear", state_dim=2, is_success=lambda s, g: True)
    model = wmkernels.linear_world_model(torch.eye(2), 0.1 * torch.ones(4, 2))
    with pytest.raises(ev.EvaluationError, match="span 8 env steps, more than the data's episodes \\(6\\)"):
        rollout_accuracy(_loaded(model), env, data, steps=4)
    with pytest.raises(ev.EvaluationError, match="steps must be >= 1"):
        rollout_accuracy(_loaded(model), env, data, steps=0)
    with pytest.raises(ev.EvaluationError, match="2 dims, Linear's 3"):
        rollout_accuracy(_loaded(model), SimpleNamespace(name="Linear", state_dim=3), data)


def test_cli_accuracy_prints_a_row_per_model(tmp_path, capsys):
    from training.data import collect

    data = collect("Wall", 6, 30, seed=3, progress=False).save(tmp_path / "wall.npz")
    path = save_model(tmp_path, "wall-offline", tiny_model(2, 10, seed=4))
    results = ev.main(["--env", "Wall", "--model", str(path), "--accuracy", str(data), "--accuracy-steps", "2"])
    assert list(results) == ["offline"] and results["offline"].steps == 2
    assert results["offline"].windows == len(range(0, 30 - 10 + 1, 5))      # one held-out episode
    out = capsys.readouterr().out
    assert "| Wall model | windows | steps | within the success tolerance % [95%] | median error on dims [0, 1] |" in out
    with pytest.raises(ev.EvaluationError, match="holds Wall episodes, not PointMaze"):
        ev.main(["--env", "PointMaze", "--model", str(path), "--accuracy", str(data)])
    with pytest.raises(ev.EvaluationError, match="no such dataset"):
        ev.main(["--env", "Wall", "--model", str(path), "--accuracy", str(tmp_path / "none.npz")])
