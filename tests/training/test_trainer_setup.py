"""Trainer set-up (training/trainer.py): the data split, the window span, the held-out subset, the
run folder's files, the step counter, fine-tuning from a trained model, and the errors of each."""
import csv

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

from training import trainer as trainer_module  # noqa: E402
from training.config import ConfigError, make_config  # noqa: E402
from training.data import collect, windows_of  # noqa: E402
from training.trainer import Trainer, load_trained  # noqa: E402

SMALL = dict(widths=[16], batch=16, epochs=1, window=2, stride=1, progress=False)
RUN_FILES = ("log.csv", "checkpoint.pt", "model.pt", "model.wmk", "config.json")   # the module docstring's list


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    """Wall datasets by (episodes, length), collected once."""
    root, cache = tmp_path_factory.mktemp("data"), {}

    def get(episodes=12, length=20):
        if (episodes, length) not in cache:
            data = collect("Wall", episodes, length, seed=1, progress=False)
            cache[episodes, length] = str(data.save(root / f"wall-{episodes}x{length}.npz"))
        return cache[episodes, length]

    return get


def _trainer(tmp_path, data, **kw):
    return Trainer(make_config({"env": "Wall", "data": data, "out": str(tmp_path / "run"), **SMALL, **kw}))


@pytest.mark.parametrize("episodes,fraction", [(12, 0.25), (12, 0.1), (7, 0.2), (2, 0.1), (5, 0.01)])
def test_the_last_val_fraction_of_episodes_is_held_out_and_at_least_one(tmp_path, wall, episodes, fraction):
    trainer = _trainer(tmp_path, wall(episodes), val_fraction=fraction)
    held_out = max(1, int(round(fraction * episodes)))
    np.testing.assert_array_equal(trainer.val_eps, np.arange(episodes - held_out, episodes))
    np.testing.assert_array_equal(trainer.train_eps, np.arange(episodes - held_out))


def test_one_episode_is_refused_naming_episodes(tmp_path, wall):
    with pytest.raises(ConfigError, match=r"^config field 'episodes': need at least 2 episodes "
                                          r"\(train and held out\), got 1$"):
        _trainer(tmp_path, wall(1))


def test_a_window_may_span_the_whole_episode_but_no_more(tmp_path, wall):
    data = wall(4, 20)
    trainer = _trainer(tmp_path, data, num_hist=1, window=1)
    k, L = trainer.k, trainer.data.actions.shape[1]
    assert L % k == 0
    fits = L // k                                        # (num_hist + window - 1) * k == L
    trainer = _trainer(tmp_path, data, num_hist=2, window=fits - 1)
    assert trainer.train_frames.shape[1] == fits + 1     # each window starts at t = 0
    span = (2 + fits - 1) * k
    with pytest.raises(ConfigError, match=rf"^config field 'window': \(num_hist \+ window - 1\) \* frameskip = "
                                          rf"{span} env steps exceed the episode length {L}$"):
        _trainer(tmp_path, data, num_hist=2, window=fits)


def test_held_out_windows_are_all_of_them_in_data_order_up_to_max_val_windows(tmp_path, wall):
    trainer = _trainer(tmp_path, wall(12), val_fraction=0.25)
    frames, actions = windows_of(trainer.data, trainer.val_eps, trainer.frames_per_window, trainer.k, 1)
    n = len(frames)
    for cap in (n, n + 1):
        capped = _trainer(tmp_path, wall(12), val_fraction=0.25, max_val_windows=cap)
        torch.testing.assert_close(capped.val[0], frames, rtol=0, atol=0)
        torch.testing.assert_close(capped.val[1], actions, rtol=0, atol=0)
    capped = _trainer(tmp_path, wall(12), val_fraction=0.25, max_val_windows=n - 3)
    got_frames, got_actions = capped.val
    assert len(got_frames) == len(got_actions) == n - 3
    rows = [int(torch.nonzero((frames == f).all(-1).all(-1)).flatten()[0]) for f in got_frames]
    assert len(set(rows)) == n - 3                                     # distinct held-out windows
    torch.testing.assert_close(got_actions, actions[rows], rtol=0, atol=0)  # with their own actions
    assert rows != sorted(rows)                                        # a random subset, not the first ones
    again = _trainer(tmp_path, wall(12), val_fraction=0.25, max_val_windows=n - 3)
    torch.testing.assert_close(again.val[0], got_frames, rtol=0, atol=0)   # fixed by the seed


@pytest.mark.parametrize("name", RUN_FILES)
def test_a_folder_holding_any_run_file_is_refused_and_overwrite_removes_it(tmp_path, wall, name):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_text("stale")
    with pytest.raises(ConfigError, match=rf"^config field 'out': {out} already holds a training run \({name}\); "
                                          r"pass --resume to continue it, --overwrite to replace it, or another --out$"):
        _trainer(tmp_path, wall())
    # a transformer writes no model.wmk, so a stale one must go with --overwrite
    _trainer(tmp_path, wall(), overwrite=True, arch="transformer", d_model=8, heads=2, layers=1).run()
    assert (out / name).exists() == (name != "model.wmk")
    if name != "model.wmk":
        assert (out / name).read_bytes() != b"stale"


def test_a_batch_that_the_processes_cannot_split_is_refused(tmp_path, wall, monkeypatch):
    monkeypatch.setattr(trainer_module, "rank_and_world", lambda: (0, 3))
    with pytest.raises(ConfigError, match=r"^config field 'batch': must be divisible by the number of "
                                          r"processes \(3\) \(got 16\)$"):
        _trainer(tmp_path, wall())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_device_is_refused_naming_the_device_field():
    with pytest.raises(ConfigError, match=r"^config field 'device': 'cuda' asked for but torch sees no CUDA device$"):
        trainer_module.training_device("cuda")


def test_the_log_counts_steps_as_batches_trained(tmp_path, wall):
    trainer = _trainer(tmp_path, wall(), epochs=3)
    assert trainer.step == 0
    trainer.run()
    per_epoch = len(trainer._batches(0))
    with open(tmp_path / "run" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [per_epoch * e for e in (1, 2, 3)]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]


def test_init_starts_from_the_trained_weights_and_normaliser(tmp_path, wall):
    offline = _trainer(tmp_path / "offline", wall(12, 20), epochs=2)
    offline.run()
    path = tmp_path / "offline" / "run" / "model.pt"
    trained, norm, _ = load_trained(path)
    # other data (so another normaliser) and another seed: the start is still the file's model
    tuned = _trainer(tmp_path / "tuned", wall(7, 20), method="adversarial", seed=9, init=str(path), lr=1e-4)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(tuned.module.state_dict()[name], value, rtol=0, atol=0)
    for name, value in norm.state_dict().items():
        torch.testing.assert_close(tuned.norm.state_dict()[name], value, rtol=0, atol=0)
    assert tuned.evaluate() == pytest.approx(offline.evaluate(*tuned.val), rel=1e-6)
    fresh = _trainer(tmp_path / "fresh", wall(7, 20), seed=9)
    assert tuned.evaluate() < fresh.evaluate()


def test_init_refuses_a_missing_file_and_another_architecture(tmp_path, wall):
    with pytest.raises(ConfigError, match=r"^config field 'init': no such file"):
        _trainer(tmp_path / "a", wall(), init=str(tmp_path / "missing.pt"))
    _trainer(tmp_path / "offline", wall()).run()
    path = str(tmp_path / "offline" / "run" / "model.pt")
    with pytest.raises(ConfigError, match=r"^config field 'init': .* was trained with widths=\[16\], "
                                          r"this run has \[32\]$"):
        _trainer(tmp_path / "b", wall(), init=path, widths=[32])
    with pytest.raises(ConfigError, match=r"^config field 'init': .* was trained with num_hist=1, this run has 2$"):
        _trainer(tmp_path / "c", wall(), init=path, num_hist=2)
    with pytest.raises(ConfigError, match=r"^config field 'init': .* has frame and action sizes \(2, 10\), "
                                          r"this run's data has \(2, 2\)$"):
        _trainer(tmp_path / "d", wall(), init=path, frameskip=1)


def test_data_of_another_env_is_refused_naming_env(tmp_path, wall):
    with pytest.raises(ConfigError, match=r"^config field 'env': 'PointMaze' but the data file holds 'Wall'$"):
        Trainer(make_config({"env": "PointMaze", "data": wall(), "out": str(tmp_path / "run"), **SMALL}))


def test_the_refusal_lists_every_run_file_found(tmp_path, wall):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("log.csv", "model.pt"):
        (out / name).write_text("stale")
    with pytest.raises(ConfigError, match=r"already holds a training run \(log\.csv, model\.pt\);"):
        _trainer(tmp_path, wall())


def _collecting(tmp_path, out, **kw):
    """A run without --data: it collects episodes x length into <out>/data.npz."""
    return Trainer(make_config({"env": "Wall", "out": str(out), **SMALL, **kw}))


def test_without_data_the_run_collects_the_asked_size_into_a_new_nested_folder(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    trainer = _collecting(tmp_path, out, episodes=5, length=12)
    assert trainer.data.actions.shape[:2] == (5, 12)
    assert (out / "data.npz").is_file()


def test_a_collected_dataset_is_reused_not_collected_again(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()                                            # an existing empty folder is fine
    _collecting(tmp_path, out, episodes=4, length=12)
    before = (out / "data.npz").read_bytes()

    def no_collection(*args, **kwargs):
        raise AssertionError("the dataset was collected again")

    monkeypatch.setattr(trainer_module, "collect", no_collection)
    again = _collecting(tmp_path, out, episodes=4, length=12)
    assert (out / "data.npz").read_bytes() == before and again.data.actions.shape[:2] == (4, 12)
    with pytest.raises(ConfigError, match=rf"^config field 'episodes'/'length': {out / 'data.npz'} holds \(4, 12\) "
                                          r"but the config asks for \(5, 12\); delete it or pass --data$"):
        _collecting(tmp_path, out, episodes=5, length=12)


def test_the_logged_train_loss_is_the_mean_over_batches_of_the_batch_mse(tmp_path, wall):
    from training.data import transitions

    trainer = _trainer(tmp_path, wall(), lr=1e-30)              # the model does not move
    module = trainer.module
    expected = []
    with torch.no_grad():
        for batch in trainer._batches(0):
            z, a, target = transitions(*trainer._normalised(trainer.train_frames[batch], trainer.train_actions[batch]),
                                       trainer.cfg.num_hist)
            expected.append(float(((module(z, a)[..., -trainer.S:] - target) ** 2).mean()))
    assert trainer.train_epoch(0) == pytest.approx(np.mean(expected), rel=1e-5)


def test_awm_random_starts_are_uniform_on_minus_one_to_one(tmp_path, wall):
    trainer = _trainer(tmp_path, wall(12, 20), method="adversarial", batch=64)
    starts = []
    perturb = trainer.awm.perturb

    def record(predict, z, a, target, eps_z, eps_a, start_z, start_a):
        starts.append((start_z.clone(), start_a.clone()))
        return perturb(predict, z, a, target, eps_z, eps_a, start_z, start_a)

    trainer.awm.perturb = record
    trainer.train_epoch(0)
    for part in (torch.cat([z for z, _ in starts]), torch.cat([a for _, a in starts])):
        assert float(part.min()) >= -1 and float(part.max()) <= 1
        assert float(part.min()) < -0.99 and float(part.max()) > 0.99
        standard_error = (1 / 3 / part.numel()) ** 0.5                   # of the mean of U[-1, 1] draws
        assert abs(float(part.mean())) < 4 * standard_error and float(part.var()) == pytest.approx(1 / 3, rel=0.05)


def test_owm_plan_seeds_follow_the_documented_formula(tmp_path, wall):
    """docs/training.md: the plan's seed is (seed * 1000003 + step * world_size + rank) mod 2^32."""
    seed = 4_294_967_000                                       # large enough for the product to wrap
    trainer = _trainer(tmp_path, wall(12, 20), method="online", owm_every=2, seed=seed, owm_iters=2,
                       owm_backend="torch")
    seeds = []

    def stand_in_correction(model, frames, actions, plan_seed, action_dim=None):
        seeds.append(plan_seed)
        return frames.clone(), actions.clone()

    trainer.owm.correct = stand_in_correction
    trainer.train_epoch(0)
    steps = range(0, len(trainer._batches(0)), 2)
    assert seeds == [(seed * 1_000_003 + step) % 2**32 for step in steps]


@pytest.mark.parametrize("shown", [True, False])
def test_each_epoch_has_a_progress_bar_over_its_batches_with_the_batch_loss(tmp_path, wall, monkeypatch, shown):
    bars = []

    class Bar:
        def __init__(self, iterable, desc, enabled, unit, leave):
            self.items, self.desc, self.enabled, self.unit, self.leave = list(iterable), desc, enabled, unit, leave
            self.postfixes = []
            bars.append(self)

        def __iter__(self):
            return iter(self.items)

        def set_postfix(self, **values):
            self.postfixes.append(values)

    monkeypatch.setattr(trainer_module, "progress", lambda it, desc, enabled, unit, leave: Bar(it, desc, enabled,
                                                                                             unit, leave))
    trainer = _trainer(tmp_path, wall(), epochs=2, progress=shown)
    losses = []
    update = trainer._update
    trainer._update = lambda *args: losses.append(update(*args)) or losses[-1]
    trainer.run()
    batches = len(trainer._batches(0))
    assert [(b.desc, b.enabled, b.unit, b.leave, len(b.items)) for b in bars] == [
        ("epoch 1/2", shown, "batch", False, batches), ("epoch 2/2", shown, "batch", False, batches)]
    postfixes = [p for b in bars for p in b.postfixes]
    assert postfixes == ([{"loss": f"{float(loss):.4g}"} for loss in losses] if shown else [])


def test_an_epochs_batches_split_a_seeded_shuffle_of_every_window(tmp_path, wall):
    trainer = _trainer(tmp_path, wall())
    n = len(trainer.train_frames)
    odd = _trainer(tmp_path, wall(), batch=n - 1)                    # n windows: a batch of n - 1, then 1
    for t in (trainer, odd):
        for epoch in (0, 1):
            batches = t._batches(epoch)
            assert [len(b) for b in batches] == [len(range(i, min(i + t.cfg.batch, n))) for i in range(0, n, t.cfg.batch)]
            torch.testing.assert_close(torch.cat(batches).sort().values, torch.arange(n), rtol=0, atol=0)
    assert [len(b) for b in odd._batches(0)] == [n - 1, 1]
    assert not torch.equal(torch.cat(trainer._batches(0)), torch.cat(trainer._batches(1)))   # reshuffled
    assert not torch.equal(torch.cat(trainer._batches(0)), torch.arange(n))
    torch.testing.assert_close(torch.cat(trainer._batches(1)), torch.cat(_trainer(tmp_path, wall())._batches(1)))


def test_the_held_out_loss_is_the_mse_over_every_transition_past_a_2048_window_chunk(tmp_path, wall):
    from training.data import transitions

    trainer = _trainer(tmp_path, wall(60, 50))
    frames, actions = trainer.train_frames[:2051], trainer.train_actions[:2051]
    assert len(frames) == 2051
    with torch.no_grad():
        z, a, target = transitions(*trainer._normalised(frames, actions), trainer.cfg.num_hist)
        expected = float(((trainer.module(z, a)[..., -trainer.S:].double() - target.double()) ** 2).mean())
    assert trainer.evaluate(frames, actions) == pytest.approx(expected, rel=1e-6)
    assert trainer.module.training                                      # back in training mode


def test_an_epoch_of_one_batch_logs_that_batchs_mse(tmp_path, wall):
    from training.data import transitions

    trainer = _trainer(tmp_path, wall(), lr=1e-30, batch=4096)
    (batch,) = trainer._batches(0)
    with torch.no_grad():
        z, a, target = transitions(*trainer._normalised(trainer.train_frames[batch], trainer.train_actions[batch]),
                                   trainer.cfg.num_hist)
        expected = float(((trainer.module(z, a)[..., -trainer.S:] - target) ** 2).mean())
    assert trainer.train_epoch(0) == pytest.approx(expected, rel=1e-5)


def test_resume_refuses_another_config_version_or_process_count_by_name(tmp_path, wall, monkeypatch):
    _trainer(tmp_path, wall()).run()
    path = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(ConfigError, match=rf"^config field 'widths': the checkpoint {path} was made with \[16\], "
                                          r"the config says \[32\]$"):
        _trainer(tmp_path, wall(), resume=True, widths=[32], epochs=2).run()
    state = torch.load(path, weights_only=True)
    torch.save({**state, "caches": state["caches"] * 2}, path)
    with pytest.raises(ConfigError, match=rf"^the checkpoint {path} was written by 2 processes; resume it with "
                                          r"the same number \(this run has 1\)$"):
        _trainer(tmp_path, wall(), resume=True, epochs=2).run()
    torch.save({**state, "version": 99}, path)
    with pytest.raises(ValueError, match=rf"^{path}: unsupported checkpoint version 99$"):
        _trainer(tmp_path, wall(), resume=True, epochs=2).run()


def test_a_frameskip_other_than_the_datas_goes_into_the_models_env_arguments(tmp_path, wall):
    import wmkernels

    for frameskip, expected in ((None, {}), (1, {"frameskip": 1})):
        out = tmp_path / str(frameskip)
        Trainer(make_config({"env": "Wall", "data": wall(), "out": str(out), **SMALL, "frameskip": frameskip})).run()
        metadata = wmkernels.MLPWorldModel.load(out / "model.wmk").metadata
        assert metadata["env_kwargs"] == expected


def test_checkpoints_every_save_every_epochs_and_at_the_end(tmp_path, wall):
    trainer = _trainer(tmp_path, wall(), epochs=5, save_every=2)
    saved = []
    save = trainer.save_checkpoint
    trainer.save_checkpoint = lambda: saved.append(trainer.epoch) or save()
    trainer.run()
    assert saved == [2, 4, 5]


def test_a_run_prints_its_folder_each_epoch_and_the_files_it_wrote(tmp_path, wall, capsys):
    trainer = _trainer(tmp_path, wall(), epochs=2)
    trainer.run()
    out = capsys.readouterr().out.splitlines()
    run = tmp_path / "run"
    assert out[0] == (f"training Wall (offline) into {run}: {len(trainer.train_frames)} windows of "
                      f"{len(trainer.train_eps)} episodes, {len(trainer.val[0])} held-out windows, epochs 1-2")
    for line, row in zip(out[1:3], trainer.history):
        assert line == (f"epoch {row['epoch']}/2: train {row['train_loss']:.5f}  held-out {row['val_loss']:.5f}  "
                        f"({row['seconds']:.1f} s)")
    assert out[3] == f"wrote {run / 'model.wmk'}, {run / 'model.pt'}, {run / 'log.csv'}"
    assert all(r["owm_dropped"] == 0 and 0 <= r["cpu_seconds"] < 600 and 0 < r["seconds"] < 600 for r in trainer.history)
