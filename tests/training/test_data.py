import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from env_cases import ALL_ENVS

pytest.importorskip("mujoco")

from training.data import TrajectoryDataset, Trajectories, collect, compute_stats, load_windows, merge  # noqa: E402
from training.envs.render import render_states, save_gif, save_strip  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ALL_ENVS)
def test_collect_save_load_and_windows_replay_in_the_simulator(tmp_path, env_cache, name):
    data = collect(name, episodes=2, length=12, seed=3, progress=False)
    path = data.save(tmp_path / "data.npz")
    loaded = Trajectories.load(path)
    np.testing.assert_array_equal(loaded.states, data.states)
    np.testing.assert_array_equal(loaded.actions, data.actions)
    assert loaded.metadata == data.metadata
    env = env_cache(name)
    assert loaded.states.shape == (2, 13, env.state_dim)
    assert loaded.actions.shape == (2, 12, env.action_dim)
    assert loaded.metadata["frameskip"] == env.frameskip == 5

    dataset = TrajectoryDataset(path, num_hist=2, stride=1)
    assert len(dataset) == 2 * (12 - 2 * 5 + 1)
    for i in (0, len(dataset) - 1):
        history, actions, nxt = dataset.window(i)
        assert actions.shape == (2, env.planner_action_dim)
        np.testing.assert_array_equal(nxt[0], history[1])
        env.set_state(history[0])
        for k in range(2):
            np.testing.assert_array_equal(env.step(actions[k]), nxt[k])
        tensors = dataset[i]
        assert all(t.dtype == torch.float32 for t in tensors)
        torch.testing.assert_close(tensors[2], torch.from_numpy(nxt).float())


def test_window_alignment_matches_the_documented_indices():
    states = np.arange(2 * 21 * 1, dtype=np.float64).reshape(2, 21, 1)
    actions = np.arange(2 * 20 * 2, dtype=np.float64).reshape(2, 20, 2)
    data = Trajectories(states, actions, {"frameskip": 5})
    dataset = TrajectoryDataset(data, num_hist=3, stride=2, episodes=[1])
    assert len(dataset) == 3  # t0 = 0, 2, 4 (t0 + 15 <= 20)
    history, acts, nxt = dataset.window(1)  # episode 1, t0 = 2
    np.testing.assert_array_equal(history[:, 0], states[1, [2, 7, 12], 0])
    np.testing.assert_array_equal(nxt[:, 0], states[1, [7, 12, 17], 0])
    np.testing.assert_array_equal(acts[2], actions[1, 12:17].reshape(-1))
    h, a, n = load_windows_from(data, num_hist=3, stride=2, episodes=[1])
    assert h.shape == (3, 3, 1) and a.shape == (3, 3, 10) and n.shape == (3, 3, 1)
    with pytest.raises(ValueError, match="exceeds the episode length"):
        TrajectoryDataset(data, num_hist=5)


def load_windows_from(data, **kwargs):
    dataset = TrajectoryDataset(data, **kwargs)
    return tuple(torch.stack(p) for p in zip(*(dataset[i] for i in range(len(dataset)))))


def test_load_windows_and_stats(tmp_path):
    data = collect("Wall", episodes=3, length=20, seed=0, progress=False)
    path = data.save(tmp_path / "wall.npz")
    history, actions, nxt = load_windows(path, num_hist=3)
    assert history.shape == (3 * 6, 3, 2) and actions.shape == (3 * 6, 3, 10)
    stats = compute_stats(path)
    planner = data.actions.reshape(-1, 10)
    torch.testing.assert_close(stats["action_mean"], torch.tensor(planner.mean(0), dtype=torch.float32))
    torch.testing.assert_close(stats["action_std"], torch.tensor(planner.std(0), dtype=torch.float32))
    flat = data.states.reshape(-1, 2)
    torch.testing.assert_close(stats["state_mean"], torch.tensor(flat.mean(0), dtype=torch.float32))
    constant = Trajectories(np.ones((1, 6, 2)), np.zeros((1, 5, 1)), {"frameskip": 5})
    assert torch.equal(compute_stats(constant)["state_std"], torch.ones(2))


def test_file_has_no_pickles_and_readable_metadata(tmp_path):
    path = collect("PointMaze", episodes=1, length=5, seed=1, progress=False).save(tmp_path / "pm.npz")
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["metadata"]))
        assert f["states"].dtype == np.float64
    assert meta["env"] == "PointMaze" and meta["policy"] == "random" and meta["episodes"] == 1
    assert meta["length"] == 5 and meta["state_dim"] == 4 and meta["action_dim"] == 2 and meta["seed"] == 1


@pytest.mark.parametrize("name, policy", [("PushT", "expert"), ("Pusher", "expert"), ("Wall", "walk")])
def test_collect_is_seeded_and_uses_the_envs_default_policy(name, policy):
    a = collect(name, episodes=1, length=8, seed=4, progress=False)
    b = collect(name, episodes=1, length=8, seed=4, progress=False)
    np.testing.assert_array_equal(a.states, b.states)
    assert a.metadata["policy"] == policy
    c = collect(name, episodes=1, length=8, seed=5, progress=False)
    assert not np.array_equal(a.actions, c.actions)


def test_collect_rejects_bad_arguments():
    with pytest.raises(ValueError, match="policy 'expert' exists for PushT and Pusher only"):
        collect("Wall", episodes=1, length=5, policy="expert", progress=False)
    with pytest.raises(ValueError, match="unknown policy"):
        collect("Wall", episodes=1, length=5, policy="bogus", progress=False)
    with pytest.raises(ValueError, match="unknown env name"):
        collect("Maze", episodes=1, length=5, progress=False)
    with pytest.raises(ValueError, match="episodes and length"):
        collect("Wall", episodes=0, length=5, progress=False)


def test_cli_collect_and_render(tmp_path):
    out = tmp_path / "wall.npz"
    gif = tmp_path / "ep.gif"
    run = [sys.executable, "-m", "training.data"]
    subprocess.run(
        run + ["collect", "--env", "wall", "--episodes", "2", "--length", "10", "--seed", "2", "--out", str(out)],
        cwd=REPO, check=True, capture_output=True,
    )
    data = Trajectories.load(out)
    assert data.states.shape == (2, 11, 2) and data.metadata["seed"] == 2
    subprocess.run(run + ["render", str(out), "--out", str(gif), "--every", "5"], cwd=REPO, check=True)
    import imageio.v3 as iio

    assert iio.imread(gif).shape[0] == 3


@pytest.mark.parametrize("name", ALL_ENVS)
def test_render_gives_rgb_images(tmp_path, env_cache, name):
    env = env_cache(name)
    start, goal = env.sample_task(np.random.default_rng(0))
    frames = render_states(env, [start, goal], goal=goal)
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    assert frames[0].std() > 0
    strip = save_strip(frames, tmp_path / "strip.png")
    from PIL import Image

    assert Image.open(strip).size == (2 * frames[0].shape[1], frames[0].shape[0])
    assert save_gif(frames, tmp_path / "ep.gif").stat().st_size > 0


@pytest.mark.parametrize("name", ["PointMaze", "Wall", "Pusher", "gym:InvertedPendulum-v5"])
def test_fallback_drawing_without_opengl(name):
    from training.envs import make

    env = make(name)
    env._gl_failed = True
    env.reset(seed=0)
    image = env.render(goal=env.get_state())
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8 and image.std() > 0


def test_merge_keeps_episode_order_and_records_its_parts(tmp_path):
    a = collect("Wall", episodes=2, length=6, seed=3, progress=False)
    b = collect("Wall", episodes=3, length=6, seed=4, progress=False)
    c = collect("Wall", episodes=1, length=6, seed=5, progress=False)
    ab = merge([a, b], ["a.npz", "b.npz"])
    np.testing.assert_array_equal(ab.states, np.concatenate([a.states, b.states]))
    np.testing.assert_array_equal(ab.actions[2:], b.actions)
    abc = merge([ab, c], ["ab.npz", "c.npz"])
    assert abc.metadata["episodes"] == 6 and abc.metadata["seed"] == [3, 4, 5]
    assert [p["file"] for p in abc.metadata["parts"]] == ["a.npz", "b.npz", "c.npz"]
    loaded = Trajectories.load(abc.save(tmp_path / "abc.npz"))
    assert loaded.metadata == abc.metadata
    np.testing.assert_array_equal(loaded.states[-1], c.states[0])


def test_merge_rejects_parts_that_differ():
    a = collect("Wall", episodes=1, length=6, seed=3, progress=False)
    longer = collect("Wall", episodes=1, length=7, seed=3, progress=False)
    with pytest.raises(ValueError, match=r"part b.npz does not match the first part a.npz: length 7 \(first part: 6\)"):
        merge([a, longer], ["a.npz", "b.npz"])
    other_env = collect("PointMaze", episodes=1, length=6, seed=3, progress=False)
    with pytest.raises(ValueError, match="env 'PointMaze'"):
        merge([a, other_env], ["a.npz", "pm.npz"])
    with pytest.raises(ValueError, match="two or more parts"):
        merge([a], ["a.npz"])


def test_cli_merge(tmp_path):
    for seed in (1, 2):
        collect("Wall", episodes=2, length=5, seed=seed, progress=False).save(tmp_path / f"w{seed}.npz")
    out = tmp_path / "w.npz"
    done = subprocess.run(
        [sys.executable, "-m", "training.data", "merge", str(tmp_path / "w1.npz"), str(tmp_path / "w2.npz"), "--out", str(out)],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    assert "4 episodes of Wall from 2 files" in done.stdout
    assert Trajectories.load(out).metadata["seed"] == [1, 2]
