"""Training (training/trainer.py, config.py, train.py): loss goes down on every env, export equals the
module, DDP equals one process, resume equals an uninterrupted run, bad configs name their field."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from env_cases import BUILTIN

pytest.importorskip("mujoco")

import wmkernels  # noqa: E402
from training.data import collect, transitions  # noqa: E402
from training.models import Normalizer, RawUnits, ResidualMLP, export_mlp, shift_matrix  # noqa: E402
from training.config import ConfigError, make_config  # noqa: E402
from training.train import main  # noqa: E402
from training.synthesis import OnlineWorldModeling  # noqa: E402
from training.trainer import Trainer, load_trained  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = dict(widths=[64, 64], batch=32, epochs=4, lr=3e-3, window=3, stride=1, progress=False,
            owm_iters=5, owm_windows=4, owm_every=2, owm_backend="torch")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """One tiny dataset per env, collected once."""
    root = tmp_path_factory.mktemp("data")
    cache = {}

    def get(name, episodes=16, length=40):
        key = (name, episodes, length)
        if key not in cache:
            data = collect(name, episodes, length, seed=0, progress=False)
            cache[key] = str(data.save(root / f"{name}-{episodes}x{length}.npz"))
        return cache[key]

    return get


def _config(tmp_path, name, data, **kw):
    return make_config({"env": name, "data": data, "out": str(tmp_path / "run"), **TINY, **kw})


def _params(path):
    return torch.load(Path(path) / "model.pt", weights_only=True)["model"]


@pytest.mark.parametrize("name", BUILTIN)
def test_training_lowers_held_out_error_and_export_matches_module(tmp_path, datasets, name):
    trainer = Trainer(_config(tmp_path, name, datasets(name)))
    before = trainer.evaluate()
    history = trainer.run()
    after = history[-1]["val_loss"]
    assert after < 0.8 * before, (before, [h["val_loss"] for h in history])
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0] == "epoch,step,train_loss,val_loss,cache_entries,owm_dropped,seconds,cpu_seconds" and len(log) == 5

    # the exported MLPWorldModel computes denormalise(module(normalise(z), normalise(a)))
    exported = wmkernels.MLPWorldModel.load(tmp_path / "run" / "model.wmk")
    module, norm, cfg = load_trained(tmp_path / "run" / "model.pt")
    frames, actions = trainer.val
    z, a = frames[:, 0], actions[:, 0]
    reference = RawUnits(module, norm).double()(z.double(), a.double())
    folded = export_mlp(module.float(), norm.float(), dtype=torch.float64)
    torch.testing.assert_close(folded.step(z.double(), a.double()), reference, atol=1e-5, rtol=1e-6)
    scale = float(z.abs().max()) + 1.0   # float32 file: relative to the size of raw states
    torch.testing.assert_close(exported.step(z, a).double(), reference, atol=1e-5 * scale, rtol=1e-5)


@pytest.mark.parametrize("num_hist", [2, 3])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_export_with_frame_history_uses_the_shift_matrix(tmp_path, num_hist, activation):
    torch.manual_seed(0)
    S, A = 4, 6
    g = torch.Generator().manual_seed(1)
    norm = Normalizer(torch.randn(S, generator=g), torch.rand(S, generator=g) + 0.5, torch.randn(A, generator=g),
                      torch.rand(A, generator=g) + 0.5, 0.1 * torch.randn(S, generator=g),
                      torch.rand(S, generator=g) + 0.1, num_hist)
    module = ResidualMLP(S, A, num_hist, (16, 8), activation, norm.delta_std / norm.state_std,
                         norm.delta_mean / norm.state_std).double()
    model = export_mlp(module, norm.double(), dtype=torch.float64)
    torch.testing.assert_close(model.skip, shift_matrix(S, num_hist, torch.float64))
    z = 3 * torch.randn(10, num_hist * S, dtype=torch.float64, generator=g)
    a = torch.randn(10, A, dtype=torch.float64, generator=g)
    out = model.step(z, a)
    torch.testing.assert_close(out, RawUnits(module, norm.double())(z, a), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(out[:, :-S], z[:, S:], atol=0, rtol=0)   # older frames shift exactly
    # a round trip through the file format keeps the function: the loaded model's steps and a
    # planner's rollout cost equal those of the module
    model.save(tmp_path / "model.wmk")
    loaded = wmkernels.MLPWorldModel.load(tmp_path / "model.wmk")
    assert loaded.weights[0].dtype == torch.float64
    torch.testing.assert_close(loaded.step(z, a), out, atol=0, rtol=0)
    plan = a[:2, None, None].expand(2, 1, 3, A).contiguous()
    obj = wmkernels.Objective(lo=-10, hi=10)
    cost = wmkernels.ops.rollout(loaded, z[:2], plan, z[2:4], obj, backend="torch")
    reference = wmkernels.ops.rollout(RawUnits(module, norm.double()), z[:2], plan, z[2:4], obj, backend="torch")
    torch.testing.assert_close(cost, reference, atol=1e-10, rtol=1e-10)


def test_adversarial_and_online_training_run_and_lower_the_error(tmp_path, datasets):
    for method in ("adversarial", "online"):
        trainer = Trainer(_config(tmp_path / method, "PointMaze", datasets("PointMaze"), method=method, num_hist=2))
        before = trainer.evaluate()
        history = trainer.run()
        assert history[-1]["val_loss"] < 0.8 * before
        if method == "online":
            assert trainer.cache.entries(0) and history[-1]["cache_entries"] == len(trainer.cache) > 0
            entry = trainer.cache.entries(0)[0]
            assert entry["frames"].shape[1:] == trainer.train_frames.shape[1:]


def test_transformer_trains_with_awm_and_plans_through_the_torch_backend(tmp_path, datasets):
    cfg = _config(tmp_path, "PointMaze", datasets("PointMaze"), arch="transformer", method="adversarial",
                  num_hist=2, d_model=32, heads=2, layers=1, epochs=2)
    trainer = Trainer(cfg)
    before = trainer.evaluate()
    assert trainer.run()[-1]["val_loss"] < before
    assert not (tmp_path / "run" / "model.wmk").exists()
    module, norm, _ = load_trained(tmp_path / "run" / "model.pt")
    frames, _ = trainer.val
    z0 = frames[:4, :2].reshape(4, -1)
    goal = frames[:4, -2:].reshape(4, -1)
    planner = wmkernels.GradientPlanner(RawUnits(module, norm), horizon=3, iters=5, lr=0.3, backend="torch",
                                        action_dim=trainer.A)
    result = planner.plan(z0, goal)
    assert result.actions.shape == (4, 3, trainer.A) and result.info["backend"] == "torch"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path, datasets):
    data = datasets("Wall")
    args = ["--env", "Wall", "--data", data, "--method", "adversarial", "--widths", "32,32", "--batch", "16",
            "--epochs", "2", "--window", "3", "--stride", "3", "--lr", "3e-3", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "training.train", *args, "--out", str(tmp_path / "one")],
                   cwd=REPO, env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", str(_free_port()), "-m", "training.train", *args, "--out", str(tmp_path / "two")],
                   cwd=REPO, env=env, check=True, timeout=120)
    one, two = _params(tmp_path / "one"), _params(tmp_path / "two")
    assert torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)["world_size"] == 2
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=2e-5, rtol=1e-4)
    log_one = (tmp_path / "one" / "log.csv").read_text().splitlines()
    log_two = (tmp_path / "two" / "log.csv").read_text().splitlines()
    assert len(log_two) == len(log_one) == 3
    for a, b in zip(log_one[1:], log_two[1:]):
        va, vb = float(a.split(",")[3]), float(b.split(",")[3])
        assert abs(va - vb) <= 1e-4 * abs(va)


def test_two_gloo_processes_run_online_world_modeling_and_resume(tmp_path, datasets):
    args = ["--env", "PointMaze", "--data", datasets("PointMaze"), "--method", "online", "--widths", "32",
            "--batch", "32", "--window", "3", "--stride", "3", "--owm-every", "2",
            "--owm-windows", "3", "--owm-iters", "5", "--owm-backend", "torch", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    sizes = []
    for extra in (["--epochs", "1"], ["--epochs", "2", "--resume"]):
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                        "--master_port", str(_free_port()), "-m", "training.train", *args, *extra,
                        "--out", str(tmp_path)], cwd=REPO, env=env, check=True, timeout=120)
        ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
        assert ckpt["world_size"] == 2 and len(ckpt["caches"]) == 2
        sizes.append([sum(len(v) for v in cache.values()) for cache in ckpt["caches"]])
    # every rank corrected its own share of each batch, and kept its cache across the resume
    assert sizes[0][0] == sizes[0][1] > 0 and sizes[1] == [2 * sizes[0][0]] * 2
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("method", ["online", "adversarial"])
def test_resume_equals_an_uninterrupted_run(tmp_path, datasets, method):
    data = datasets("PointMaze")
    full = Trainer(_config(tmp_path / "full", "PointMaze", data, method=method, epochs=4)).run()
    Trainer(_config(tmp_path / "half", "PointMaze", data, method=method, epochs=2)).run()
    resumed = Trainer(_config(tmp_path / "half", "PointMaze", data, method=method, epochs=4, resume=True))
    epochs_run = []
    train_epoch = resumed.train_epoch
    resumed.train_epoch = lambda epoch: epochs_run.append(epoch) or train_epoch(epoch)
    history = resumed.run()
    assert epochs_run == [2, 3]                     # it continued, it did not start again
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    a, b = _params(tmp_path / "full" / "run"), _params(tmp_path / "half" / "run")
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)
    assert abs(history[-1]["val_loss"] - full[-1]["val_loss"]) <= 1e-5 * full[-1]["val_loss"]
    ckpt = torch.load(tmp_path / "half" / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 4 and set(ckpt) >= {"model", "optimizer", "caches", "generator", "torch_rng"}
    if method == "online":
        assert sum(len(v) for v in ckpt["caches"][0].values()) > 0
    assert len((tmp_path / "half" / "run" / "log.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize("field,value", [
    ("method", "dagger"), ("batch", 0), ("widths", [64, 0]), ("widths", [8, 8, 8, 8, 8]), ("lr", -1.0),
    ("num_hist", 0), ("activation", "swish"), ("arch", "rnn"), ("awm_state_factor", -0.1),
    ("awm_std", "median"), ("val_fraction", 0.9), ("owm_windows", 0), ("epochs", 1.5), ("heads", 3),
    ("owm_backend", "gpu"), ("resume", "yes"), ("overwrite", 1), ("env", ""), ("device", "tpu"), ("threads", 0),
])
def test_bad_config_values_name_their_field(field, value):
    with pytest.raises(ConfigError, match=repr(field)):
        make_config({"env": "Wall", field: value})


def test_bad_values_from_the_cli_and_config_files(tmp_path, datasets):
    with pytest.raises(ConfigError, match="'batch'"):
        main(["--env", "Wall", "--batch", "0"])
    with pytest.raises(ConfigError, match="unknown config field.*'bach'"):
        make_config({"env": "Wall", "bach": 3})
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"env": "Wall", "owm_every": 0}))
    with pytest.raises(ConfigError, match="'owm_every'"):
        main(["--config", str(path)])
    with pytest.raises(ConfigError, match="'data'"):
        Trainer(make_config({"env": "Wall", "data": str(tmp_path / "missing.npz"), "out": str(tmp_path)}))
    with pytest.raises(ConfigError, match="'env'"):
        Trainer(make_config({"env": "PointMaze", "data": datasets("Wall"), "out": str(tmp_path)}))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="'device'"):
            Trainer(make_config({"env": "Wall", "data": datasets("Wall"), "device": "cuda", "out": str(tmp_path)}))
    with pytest.raises(ConfigError, match="'window'"):
        Trainer(make_config({"env": "Wall", "data": datasets("Wall"), "window": 10, "out": str(tmp_path)}))


def test_cli_with_a_config_file_collects_data_on_the_fly(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"env": "Wall", "episodes": 6, "length": 20, "widths": [16], "epochs": 1,
                                "window": 2, "batch": 16, "out": str(tmp_path / "run")}))
    main(["--config", str(path), "--no-progress", "--lr", "0.01"])
    out = tmp_path / "run"
    assert (out / "data.npz").exists() and (out / "model.wmk").exists() and (out / "checkpoint.pt").exists()
    assert np.load(out / "data.npz")["actions"].shape[:2] == (6, 20)
    assert json.loads((out / "config.json").read_text())["lr"] == 0.01
    assert wmkernels.MLPWorldModel.load(out / "model.wmk").state_dim == 2


def test_a_run_folder_is_not_overwritten_without_resume_or_overwrite(tmp_path, datasets, capsys):
    data = datasets("Wall")
    Trainer(_config(tmp_path, "Wall", data, epochs=2)).run()
    out = capsys.readouterr().out
    assert f"training Wall (offline) into {tmp_path / 'run'}:" in out and f"wrote {tmp_path / 'run' / 'model.wmk'}" in out
    assert "epoch 2/2: train" in out                       # epoch lines even without progress bars
    with pytest.raises(ConfigError, match="already holds a training run.*--resume.*--overwrite"):
        Trainer(_config(tmp_path, "Wall", data, epochs=1))
    with pytest.raises(ConfigError, match="'overwrite'"):
        make_config({"env": "Wall", "resume": True, "overwrite": True})
    before = _params(tmp_path / "run")
    Trainer(_config(tmp_path, "Wall", data, epochs=1, overwrite=True, seed=5)).run()
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 2
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert any(not torch.equal(before[k], v) for k, v in _params(tmp_path / "run").items())


def test_the_model_file_carries_its_metadata(tmp_path, datasets):
    from training.envs import make
    from training.model_info import ModelInfo

    Trainer(_config(tmp_path, "gym:Reacher-v5", datasets("gym:Reacher-v5"), epochs=1)).run()
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["frameskip"] == 5   # resolved from the data
    info = ModelInfo.of(wmkernels.MLPWorldModel.load(run / "model.wmk"))
    _, norm, _ = load_trained(run / "model.pt")
    env = make("gym:Reacher-v5")
    assert (info.env, info.method, info.frameskip, info.num_hist) == ("gym:Reacher-v5", "offline", 5, 1)
    assert info.state_names == env.state_names and info.state_names[:2] == ("qpos:joint0", "qpos:joint1")
    assert info.success == env.success and info.unwrap_dims == (0,)
    assert info.train_config["widths"] == [64, 64] and info.train_config["frameskip"] == 5
    for name in ("state_mean", "state_std", "action_mean", "action_std", "delta_mean", "delta_std"):
        np.testing.assert_allclose(info.normalization[name], getattr(norm, name).double().numpy(), rtol=1e-7)
    np.testing.assert_array_equal(info.action_low, -np.ones(2))
    np.testing.assert_array_equal(info.action_bounds()[1], np.ones(10))
    resolved = info.objective(mode="all", base=0.5).resolve(3, 8, 10, dtype=torch.float64)
    std = norm.state_std.double().numpy()
    np.testing.assert_allclose(resolved.state_weights.numpy(), [*(1 / std[:4] ** 2), 0, 0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(resolved.step_weights.numpy(), [1, 0.5, 0.25])
    np.testing.assert_array_equal(resolved.lo.numpy(), -np.ones(10))


def test_online_batches_train_on_every_entry_of_bucket_i_over_owm_every(tmp_path, datasets):
    """Batch i of epoch e: at every owm_every-th batch a corrected copy of the whole batch joins
    bucket i // owm_every first; then the ordinary update, then one update per entry of that
    bucket: the windows corrected at batch (i // owm_every) * owm_every of epochs 0..e, in order."""
    every, epochs, H = 3, 3, 2
    trainer = Trainer(_config(tmp_path, "Wall", datasets("Wall"), method="online", num_hist=H, batch=48,
                              owm_every=every, owm_windows=None))
    updates, extra, corrected = [], {}, {}
    epoch = [0]
    update, online = trainer._update, trainer._online

    def record_update(z, a, target, denominator):
        updates.append((z.detach().clone(), a.detach().clone(), target.detach().clone()))
        return update(z, a, target, denominator)

    def record_online(batch, frames, actions):
        start = len(updates)
        online(batch, frames, actions)
        extra[epoch[0], batch] = updates[start:]

    def stand_in_correction(model, frames, actions, seed, action_dim=None):
        # a recognisable correction: the windows shifted, so an entry differs from the data
        corrected.setdefault(epoch[0], []).append((frames + 0.25, actions.flip(0)))
        return corrected[epoch[0]][-1]

    trainer._update, trainer._online, trainer.owm.correct = record_update, record_online, stand_in_correction
    batches = trainer._batches(0)
    assert len(batches) >= 2 * every + 1 and len(batches) % every      # a partial last bucket too
    for e in range(epochs):
        epoch[0] = e
        trainer.train_epoch(e)
    per_epoch = -(-len(batches) // every)                                # ceil: entries made per epoch
    assert [len(corrected[e]) for e in range(epochs)] == [per_epoch] * epochs
    sizes = [len(b) for b in trainer._batches(0)]
    for e in range(epochs):
        for i in range(0, len(batches), every):
            assert len(corrected[e][i // every][0]) == sizes[i]          # the whole batch is corrected
    assert len(updates) == sum(len(batches) * (1 + e + 1) for e in range(epochs))
    for e in range(epochs):
        for i in range(len(batches)):
            expected = [corrected[earlier][i // every] for earlier in range(e + 1)]
            assert len(extra[e, i]) == len(expected), (e, i)
            for (z, a, target), (frames, actions) in zip(extra[e, i], expected):
                want = transitions(trainer.norm.state(frames), trainer.norm.action(actions), H)
                for got, ref in zip((z, a, target), want):
                    torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_online_corrects_only_the_first_owm_windows_when_set(tmp_path, datasets):
    trainer = Trainer(_config(tmp_path, "Wall", datasets("Wall"), method="online", batch=48, owm_every=2,
                              owm_windows=5))
    sizes = []

    def stand_in_correction(model, frames, actions, seed, action_dim=None):
        sizes.append(len(frames))
        return frames.clone(), actions.clone()

    trainer.owm.correct = stand_in_correction
    trainer.train_epoch(0)
    assert sizes == [5] * len(range(0, len(trainer._batches(0)), 2))


def test_adversarial_updates_take_the_perturbed_batch_within_factor_times_the_part_radius(tmp_path, datasets):
    """AWM with std='batch': one radius per part, eps = state factor x the mean over rows of each
    row's std over z's dims, and action factor x the same for a; the optimiser step gets the
    perturbed inputs and the clean targets."""
    trainer = Trainer(_config(tmp_path, "Wall", datasets("Wall"), method="adversarial", num_hist=2, batch=64,
                              awm_state_factor=0.1, awm_action_factor=0.03, awm_std="batch"))
    perturbed, updates = [], []
    perturb, update = trainer.awm.perturb, trainer._update

    def record_perturb(predict, z, a, target, eps_z, eps_a, start_z, start_a):
        out = perturb(predict, z, a, target, eps_z, eps_a, start_z, start_a)
        perturbed.append((z, a, target, eps_z, eps_a, out))
        return out

    def record_update(z, a, target, denominator):
        updates.append((z.detach().clone(), a.detach().clone(), target.detach().clone()))
        return update(z, a, target, denominator)

    trainer.awm.perturb, trainer._update = record_perturb, record_update
    trainer.train_epoch(0)
    assert len(perturbed) == len(updates) == len(trainer._batches(0)) >= 2
    for (z, a, target, eps_z, eps_a, (z_adv, a_adv)), (z_up, a_up, target_up) in zip(perturbed, updates):
        z64, a64 = z.double(), a.double()
        radius_z = ((z64 - z64.mean(1, keepdim=True)) ** 2).sum(1).div(z.shape[1] - 1).sqrt().mean()
        radius_a = ((a64 - a64.mean(1, keepdim=True)) ** 2).sum(1).div(a.shape[1] - 1).sqrt().mean()
        assert eps_z.shape == eps_a.shape == ()
        torch.testing.assert_close(eps_z.double(), 0.1 * radius_z, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(eps_a.double(), 0.03 * radius_a, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(z_up, z_adv, rtol=0, atol=0)
        torch.testing.assert_close(a_up, a_adv, rtol=0, atol=0)
        torch.testing.assert_close(target_up, target, rtol=0, atol=0)
        for moved, clean, eps in ((z_up, z, eps_z), (a_up, a, eps_a)):
            step = (moved - clean).abs()
            assert bool((step <= eps * (1 + 1e-5) + 1e-7).all())
            assert float((step / eps).max()) > 0.99      # FGSM from a random start reaches the box's faces


def _loss_input_gradient_norm(trainer, frames, actions):
    """Mean over transitions of |d loss / d (z, a)|, the slope of the teacher-forcing loss in the
    model's inputs (normalised units)."""
    z, a, target = transitions(*trainer._normalised(frames, actions), trainer.cfg.num_hist)
    z, a = z.requires_grad_(True), a.requires_grad_(True)
    loss = ((trainer.module(z, a)[..., -trainer.S:] - target) ** 2).sum()
    g_z, g_a = torch.autograd.grad(loss, (z, a))
    return float(torch.cat([g_z, g_a], -1).norm(dim=-1).mean())


def test_online_and_adversarial_models_differ_from_offline_as_their_methods_predict(tmp_path, datasets):
    """Same data, seed and updates per batch: the OWM model predicts the transitions of planner-made
    windows (held-out starts, plans of the offline model, executed in the simulator) better than
    the offline model; the AWM model's loss is flatter in its inputs on held-out data."""
    settings = dict(epochs=3, owm_every=1, owm_windows=12, owm_iters=20, awm_state_factor=0.2, awm_action_factor=0.2)
    trainers = {}
    for method in ("offline", "online", "adversarial"):
        trainers[method] = Trainer(_config(tmp_path / method, "PointMaze", datasets("PointMaze"), method=method, **settings))
        trainers[method].run()
    offline = trainers["offline"]
    frames, actions = (t[:64] for t in offline.val)
    owm = OnlineWorldModeling(offline._make_env(), 1, offline.norm.state_std, iters=20, backend="torch")
    planned_frames, planned_actions = owm.correct(offline._planning_model()[0], frames, actions, seed=3)
    assert len(planned_frames) == len(frames)
    visited = {m: t.evaluate(planned_frames, planned_actions) for m, t in trainers.items()}
    assert visited["online"] < 0.8 * visited["offline"], visited
    slope = {m: _loss_input_gradient_norm(t, frames, actions) for m, t in trainers.items()}
    assert slope["adversarial"] < 0.8 * slope["offline"], slope
