"""AWM and OWM (training/synthesis.py): perturbation bounds, loss ascent, exact replay of OWM windows."""
import numpy as np
import pytest
import torch

from env_cases import BUILTIN

pytest.importorskip("mujoco")

import wmkernels  # noqa: E402
from training.data import collect, make_normalizer, transitions, windows_of  # noqa: E402
from training.models import FrameTransformer, RawUnits, ResidualMLP, export_mlp  # noqa: E402
from training.synthesis import AdversarialPerturbation, OnlineWorldModeling, ReplayCache, row_spread  # noqa: E402


def _batch(seed=0, B=64, D=6, A=4):
    g = torch.Generator().manual_seed(seed)
    z, a = torch.randn(B, D, generator=g), torch.randn(B, A, generator=g)
    return z, a, g


@pytest.mark.parametrize("steps", [1, 3])
def test_awm_perturbations_stay_in_bounds_and_raise_the_loss(steps):
    torch.manual_seed(0)
    D, A = 6, 4
    model = ResidualMLP(D, A, 1, (32, 32), "tanh")
    z, a, g = _batch(D=D, A=A)
    target = model(z, a).detach() + 0.01 * torch.randn(z.shape, generator=g)  # the model is nearly right
    awm = AdversarialPerturbation(state_factor=0.05, action_factor=0.02, steps=steps)
    z_std, a_std = 2.0 * torch.ones(D), 0.5 * torch.ones(A)
    eps_z, eps_a = awm.epsilons(z_std, a_std)
    torch.testing.assert_close(eps_z, 0.05 * z_std)
    torch.testing.assert_close(eps_a, 0.02 * a_std)
    start_z = torch.rand(z.shape, generator=g) * 2 - 1
    start_a = torch.rand(a.shape, generator=g) * 2 - 1
    z_adv, a_adv = awm.perturb(model, z, a, target, eps_z, eps_a, start_z, start_a)
    assert bool(((z_adv - z).abs() <= eps_z + 1e-6).all()) and bool(((a_adv - a).abs() <= eps_a + 1e-6).all())
    assert float((z_adv - z).abs().max()) > 0.9 * float(eps_z.max())  # the attack does move the inputs
    mse = torch.nn.functional.mse_loss
    clean = mse(model(z, a), target)
    adversarial = mse(model(z_adv, a_adv), target)
    random_start = mse(model(z + start_z * eps_z, a + start_a * eps_a), target)
    assert adversarial > clean and adversarial > random_start


def test_awm_step_is_fgsm_with_alpha_1_25_eps_then_clipped():
    """With a linear model the gradient sign is known: d = clip(start + 1.25 eps sign(g), -eps, eps)."""
    D, A = 3, 2
    lin = torch.nn.Linear(D + A, D, bias=False)

    def predict(z, a):
        return lin(torch.cat([z, a], -1))

    z, a, g = _batch(B=5, D=D, A=A)
    target = torch.zeros(5, D)
    awm = AdversarialPerturbation(0.1, 0.1)
    assert awm.alpha == 1.25
    eps_z, eps_a = torch.full((D,), 0.1), torch.full((A,), 0.1)
    start_z, start_a = torch.zeros(5, D), torch.zeros(5, A)
    z_adv, a_adv = awm.perturb(predict, z, a, target, eps_z, eps_a, start_z, start_a)
    # from a zero start, one step of 1.25 eps clipped to eps lands on the corners: |d| = eps
    torch.testing.assert_close((z_adv - z).abs(), torch.full_like(z, 0.1))
    x = torch.cat([z, a], -1).requires_grad_(True)
    (lin(x) ** 2).sum().backward()
    torch.testing.assert_close(torch.cat([z_adv - z, a_adv - a], -1), 0.1 * x.grad.sign())


def test_awm_std_first_batch_is_fixed_and_batch_mode_follows():
    first = AdversarialPerturbation(std="first")
    per_batch = AdversarialPerturbation(std="batch")
    for awm in (first, per_batch):
        awm.epsilons(torch.ones(2), torch.ones(1))
    eps_first, _ = first.epsilons(3 * torch.ones(2), torch.ones(1))
    eps_batch, _ = per_batch.epsilons(3 * torch.ones(2), torch.ones(1))
    torch.testing.assert_close(eps_first, torch.full((2,), 0.05))
    torch.testing.assert_close(eps_batch, torch.full((2,), 0.15))
    with pytest.raises(ValueError, match="std"):
        AdversarialPerturbation(std="median")


def test_awm_works_on_a_transformer_world_model():
    torch.manual_seed(0)
    model = FrameTransformer(4, 6, num_hist=3, d_model=16, heads=2, layers=1)
    z, a, g = _batch(B=16, D=12, A=6)
    target = model(z, a).detach()[..., -4:] + 0.01
    awm = AdversarialPerturbation()
    eps_z, eps_a = awm.epsilons(z.std(0), a.std(0))
    predict = lambda zz, aa: model(zz, aa)[..., -4:]
    z_adv, a_adv = awm.perturb(predict, z, a, target, eps_z, eps_a, torch.zeros_like(z), torch.zeros_like(a))
    assert bool(((z_adv - z).abs() <= eps_z + 1e-6).all())
    mse = torch.nn.functional.mse_loss
    assert mse(predict(z_adv, a_adv), target) > mse(predict(z, a), target)


class NoSuccess:
    """An env proxy that fails the test if anyone reads the success signal."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        if name == "is_success":
            raise AssertionError("a planner read the environment's success signal")
        return getattr(self._env, name)


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("num_hist", [1, 2])
def test_owm_windows_replay_exactly_in_the_simulator(env_cache, name, num_hist):
    env = env_cache(name)
    data = collect(name, episodes=3, length=5 * (num_hist + 3), seed=1, progress=False)
    frames, actions = windows_of(data, [0, 1, 2], num_hist + 3, env.frameskip, stride=5)
    frames, actions = frames[:3], actions[:3]
    norm = make_normalizer(data, [0, 1, 2], env.frameskip, num_hist)
    torch.manual_seed(0)
    module = ResidualMLP(env.state_dim, env.planner_action_dim, num_hist, (32,), "tanh",
                         norm.delta_std / norm.state_std, norm.delta_mean / norm.state_std)
    owm = OnlineWorldModeling(NoSuccess(env), num_hist, norm.state_std, iters=5, backend="torch")
    new_frames, new_actions = owm.correct(export_mlp(module, norm), frames, actions, seed=7)
    T = 3
    assert new_frames.shape == frames.shape and new_actions.shape == actions.shape
    torch.testing.assert_close(new_frames[:, :num_hist], frames[:, :num_hist])        # history from the data
    torch.testing.assert_close(new_actions[:, :num_hist - 1], actions[:, :num_hist - 1])
    planned = new_actions[:, num_hist - 1:]
    assert planned.shape[1] == T
    lo, hi = np.tile(env.action_low, env.frameskip), np.tile(env.action_high, env.frameskip)
    assert np.all(planned.numpy() >= lo - 1e-6) and np.all(planned.numpy() <= hi + 1e-6)
    assert not torch.allclose(planned, actions[:, num_hist - 1:])                    # really replanned
    for b in range(len(frames)):
        env.set_state(new_frames[b, num_hist - 1].double().numpy())
        for t in range(T):
            reached = env.step(planned[b, t].double().numpy())
            np.testing.assert_allclose(reached, new_frames[b, num_hist + t].double().numpy(), rtol=1e-6, atol=1e-5)
    # the corrected windows are ordinary training windows
    z, a, target = transitions(norm.state(new_frames), norm.action(new_actions), num_hist)
    assert z.shape == (3 * T, num_hist * env.state_dim) and target.shape == (3 * T, env.state_dim)


def test_owm_plans_with_a_generic_torch_world_model(env_cache):
    env = env_cache("Wall")
    data = collect("Wall", episodes=2, length=30, seed=2, progress=False)
    frames, actions = windows_of(data, [0, 1], 4, env.frameskip, stride=10)
    norm = make_normalizer(data, [0, 1], env.frameskip, 2)
    torch.manual_seed(0)
    module = FrameTransformer(env.state_dim, env.planner_action_dim, 2, d_model=16, heads=2, layers=1)
    owm = OnlineWorldModeling(NoSuccess(env), 2, norm.state_std, iters=3)
    with pytest.raises(ValueError, match="action_dim"):
        owm.plan(RawUnits(module, norm), frames, seed=0)
    new_frames, new_actions = owm.correct(RawUnits(module, norm), frames, actions, 0, env.planner_action_dim)
    env.set_state(new_frames[0, 1].double().numpy())
    for t in range(2):
        np.testing.assert_allclose(env.step(new_actions[0, 1 + t].double().numpy()),
                                   new_frames[0, 2 + t].double().numpy(), atol=1e-5)


def test_owm_drops_windows_whose_start_state_the_env_refuses(env_cache):
    env = env_cache("PointMaze")
    data = collect("PointMaze", episodes=1, length=15, seed=3, progress=False)
    frames, actions = windows_of(data, [0], 3, env.frameskip, stride=1)
    frames, actions = frames[:3].clone(), actions[:3]
    frames[1, 0, :2] = torch.tensor([100.0, 100.0])          # outside the maze
    norm = make_normalizer(data, [0], env.frameskip, 1)
    torch.manual_seed(0)
    model = export_mlp(ResidualMLP(4, env.planner_action_dim, 1, (8,), "relu"), norm)
    owm = OnlineWorldModeling(env, 1, norm.state_std, iters=2, backend="torch")
    new_frames, new_actions = owm.correct(model, frames, actions, seed=0)
    assert owm.dropped == 1 and len(new_frames) == len(new_actions) == 2
    torch.testing.assert_close(new_frames[:, 0], frames[[0, 2], 0])


def test_replay_cache_buckets_capacity_and_state_dict():
    cache = ReplayCache(capacity=2)
    for i in range(3):
        cache.add(10, torch.full((1, 2, 1), float(i)), torch.zeros(1, 1, 1))
    cache.add(20, torch.zeros(1, 2, 1), torch.zeros(1, 1, 1))
    assert len(cache) == 3 and [float(e["frames"][0, 0, 0]) for e in cache.entries(10)] == [1.0, 2.0]
    assert cache.entries(0) == []
    other = ReplayCache()
    other.load_state_dict(cache.state_dict())
    assert len(other.entries(10)) == 2 and len(other.entries(20)) == 1


class _DriftEnv:
    """A linear simulator: each env action moves the state by 0.3 a, clipped to [-1, 1]; one
    planner action is two env actions (frameskip 2). Enough of ``training.envs.Env`` for OWM."""

    frameskip, action_low, action_high, state_dim = 2, -np.ones(2), np.ones(2), 2

    def set_state(self, state):
        self.state = np.array(state, dtype=np.float64)

    def step(self, action):
        for a in np.asarray(action, dtype=np.float64).reshape(self.frameskip, 2):
            self.state = self.state + 0.3 * np.clip(a, -1, 1)
        return self.state.copy()


def _drift_windows(env, count, frames, seed):
    """`count` windows of `frames` states under random actions in [-1, 1], from random starts."""
    gen = np.random.default_rng(seed)
    states, actions = [], []
    for _ in range(count):
        env.set_state(gen.uniform(-1, 1, 2))
        acts = gen.uniform(-1, 1, (frames - 1, 2 * env.frameskip))
        states.append([env.state.copy()] + [env.step(a) for a in acts])
        actions.append(acts)
    return torch.tensor(np.array(states), dtype=torch.float32), torch.tensor(np.array(actions), dtype=torch.float32)


def _fitted_drift_model(env, num_hist):
    """The drift env fitted by least squares on random transitions, as a raw-unit MLPWorldModel on
    stacked frames (the older frames shift, the newest moves by a B)."""
    frames, actions = _drift_windows(env, 64, 2, seed=5)
    x = torch.cat([frames[:, 0], actions[:, 0]], -1).double()
    fit = torch.linalg.lstsq(x, frames[:, 1].double()).solution          # [S + kA, S]
    S = env.state_dim
    shift = torch.zeros(num_hist * S, num_hist * S, dtype=torch.float64)
    for h in range(num_hist - 1):
        shift[(h + 1) * S:(h + 2) * S, h * S:(h + 1) * S] = torch.eye(S, dtype=torch.float64)
    shift[-S:, -S:] = fit[:S]
    B = torch.zeros(fit.shape[0] - S, num_hist * S, dtype=torch.float64)
    B[:, -S:] = fit[S:]
    return wmkernels.linear_world_model(shift, B).to(dtype=torch.float32)


def test_owm_plans_from_the_window_start_toward_its_last_frame_in_normalised_units(monkeypatch):
    """The planner call: start the stacked first H frames, goal the last frame on the newest slot,
    state weights 1 / std^2 on the newest frame only (the squared error in normalised units),
    horizon N - H + 1, the environment's bounds tiled over the frameskip."""
    env, H, N1 = _DriftEnv(), 2, 6
    frames, actions = _drift_windows(env, 3, N1, seed=1)
    std = torch.tensor([0.5, 2.0])
    calls = []

    class Recording(wmkernels.GradientPlanner):
        def plan(self, z0, goal, init=None, seed=None):
            calls.append((self, z0.clone(), goal.clone()))
            return super().plan(z0, goal, init, seed)

    monkeypatch.setattr(wmkernels, "GradientPlanner", Recording)
    owm = OnlineWorldModeling(env, H, std, iters=2, backend="torch")
    owm.plan(_fitted_drift_model(env, H), frames, seed=3)
    (planner, z0, goal), = calls
    S, T = 2, N1 - H
    assert planner.horizon == T and planner.samples == 1 and planner.optimizer == "adam" and planner.iters == 2
    torch.testing.assert_close(z0, frames[:, :H].reshape(3, H * S), rtol=0, atol=0)
    torch.testing.assert_close(goal[:, -S:], frames[:, -1], rtol=0, atol=0)
    r = planner.objective.resolve(T, H * S, 2 * env.frameskip, torch.float64)
    z = torch.randn(5, H * S, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g = torch.randn(5, H * S, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    normalised_error = (((z[:, -S:] - g[:, -S:]) / std.double()) ** 2).sum(-1)
    torch.testing.assert_close((((z - g) ** 2) * r.state_weights).sum(-1), normalised_error)
    torch.testing.assert_close(r.step_weights, torch.tensor([0.0] * (T - 1) + [1.0], dtype=torch.float64))
    torch.testing.assert_close(r.lo, -torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(r.hi, torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize("num_hist", [1, 2])
def test_owm_corrected_windows_end_at_the_target_on_a_fitted_model(num_hist):
    """With a model fitted to the simulator, the corrected window's last state (the simulator's)
    is the window's last frame, far closer than where a random plan ends."""
    env = _DriftEnv()
    frames, actions = _drift_windows(env, 4, num_hist + 3, seed=4)
    std = frames.reshape(-1, 2).std(0)
    owm = OnlineWorldModeling(env, num_hist, std, backend="torch")
    new_frames, _ = owm.correct(_fitted_drift_model(env, num_hist), frames, actions, seed=9)
    error = ((new_frames[:, -1] - frames[:, -1]) / std).norm(dim=-1)
    random_plan = torch.rand(4, 3, 4, generator=torch.Generator().manual_seed(6)) * 2 - 1
    random_frames, _ = owm.execute(frames, actions, random_plan)
    random_error = ((random_frames[:, -1] - frames[:, -1]) / std).norm(dim=-1)
    assert float(error.max()) < 0.05 and float(random_error.mean()) > 10 * float(error.mean()), (error, random_error)


def test_awm_defaults_are_the_training_configs():
    """docs/training.md: FGSM (one step of 1.25 eps) with budgets 0.05 x std(z) and 0.02 x std(a),
    the training config's defaults too."""
    from training.config import TrainConfig

    awm, cfg = AdversarialPerturbation(), TrainConfig()
    assert (awm.state_factor, awm.action_factor, awm.steps) == (cfg.awm_state_factor, cfg.awm_action_factor, 1)
    assert awm.std_mode == cfg.awm_std == "batch"
    eps_z, eps_a = awm.epsilons(torch.full((3,), 2.0), torch.full((2,), 4.0))
    torch.testing.assert_close(eps_z, torch.full((3,), 2.0 * cfg.awm_state_factor))
    torch.testing.assert_close(eps_a, torch.full((2,), 4.0 * cfg.awm_action_factor))
    assert awm.alpha == 1.25


@pytest.mark.parametrize("steps", [2, 5])
def test_pgd_step_is_2_5_eps_over_k(steps):
    assert AdversarialPerturbation(steps=steps).alpha == pytest.approx(2.5 / steps, rel=1e-15)
    assert AdversarialPerturbation(steps=steps, alpha=0.3).alpha == 0.3


def test_awm_factors_of_zero_are_allowed_and_negative_ones_refused():
    AdversarialPerturbation(state_factor=0.0, action_factor=0.0)
    for factors in ((-0.1, 0.02), (0.05, -0.1)):
        with pytest.raises(ValueError, match=r"^state_factor and action_factor must be >= 0, got "):
            AdversarialPerturbation(*factors)
    with pytest.raises(ValueError, match=r"^steps must be >= 1, got 0$"):
        AdversarialPerturbation(steps=0)
    with pytest.raises(ValueError, match=r"^std must be 'first' or 'batch', got 'median'$"):
        AdversarialPerturbation(std="median")


def test_awm_first_batch_std_survives_a_state_dict_round_trip():
    awm = AdversarialPerturbation(std="first")
    awm.epsilons(torch.tensor([1.0, 3.0]), torch.tensor([2.0]))
    restored = AdversarialPerturbation(std="first")
    restored.load_state_dict(awm.state_dict())
    eps_z, eps_a = restored.epsilons(torch.tensor([7.0, 7.0]), torch.tensor([7.0]))
    torch.testing.assert_close(eps_z, 0.05 * torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(eps_a, 0.02 * torch.tensor([2.0]))


def test_awm_random_start_is_the_uniform_draw_times_eps():
    """With a negligible ascent step the perturbation is the random start: start * eps."""
    D, A = 3, 2
    lin = torch.nn.Linear(D + A, D)
    predict = lambda z, a: lin(torch.cat([z, a], -1))
    z, a, g = _batch(B=7, D=D, A=A)
    start_z, start_a = torch.rand(7, D, generator=g) * 2 - 1, torch.rand(7, A, generator=g) * 2 - 1
    eps_z, eps_a = torch.tensor([0.3, 0.2, 0.1]), torch.tensor([0.05, 0.4])
    awm = AdversarialPerturbation(alpha=1e-9)
    z_adv, a_adv = awm.perturb(predict, z, a, torch.zeros(7, D), eps_z, eps_a, start_z, start_a)
    torch.testing.assert_close(z_adv - z, start_z * eps_z, atol=1e-6, rtol=0)
    torch.testing.assert_close(a_adv - a, start_a * eps_a, atol=1e-6, rtol=0)


def test_awm_ascent_step_is_alpha_eps_times_the_gradient_sign():
    """An unclipped step (alpha 0.5 from a zero start): d = 0.5 eps sign(grad)."""
    D, A = 3, 2
    lin = torch.nn.Linear(D + A, D, bias=False)
    predict = lambda z, a: lin(torch.cat([z, a], -1))
    z, a, _ = _batch(B=4, D=D, A=A)
    eps_z, eps_a = torch.tensor([0.4, 0.1, 0.2]), torch.tensor([0.3, 0.05])
    awm = AdversarialPerturbation(alpha=0.5)
    z_adv, a_adv = awm.perturb(predict, z, a, torch.zeros(4, D), eps_z, eps_a, torch.zeros(4, D), torch.zeros(4, A))
    x = torch.cat([z, a], -1).requires_grad_(True)
    (lin(x) ** 2).sum().backward()
    torch.testing.assert_close(torch.cat([z_adv - z, a_adv - a], -1), 0.5 * torch.cat([eps_z, eps_a]) * x.grad.sign())


def test_owm_defaults_are_the_training_configs_and_the_seed_wraps_at_2_to_the_32(monkeypatch):
    """docs/training.md: Adam lr 0.3, 100 iterations, noise 0.003, a normal start of std 1, the
    config's backend; one-step windows plan; the plan's seed is taken mod 2^32."""
    from training.config import TrainConfig

    cfg, env = TrainConfig(), _DriftEnv()
    owm = OnlineWorldModeling(env, 1, torch.ones(2))
    assert (owm.iters, owm.lr, owm.noise, owm.init_std, owm.backend) == (
        cfg.owm_iters, cfg.owm_lr, cfg.owm_noise, cfg.owm_init_std, cfg.owm_backend)
    seeds = []

    class Recording(wmkernels.GradientPlanner):
        def plan(self, z0, goal, init=None, seed=None):
            seeds.append(self.seed)
            return super().plan(z0, goal, init, seed)

    monkeypatch.setattr(wmkernels, "GradientPlanner", Recording)
    frames, _ = _drift_windows(env, 2, 2, seed=8)                  # T = 1
    owm = OnlineWorldModeling(env, 1, torch.ones(2), iters=1, backend="torch")
    for seed in (1000, 2**32 + 5, 3 * 2**32 - 1):
        assert owm.plan(_fitted_drift_model(env, 1), frames, seed).shape == (2, 1, 4)
    assert seeds == [1000, 5, 2**32 - 1]
    with pytest.raises(ValueError, match=r"^a window needs more than num_hist=1 frames to plan over, got 1$"):
        owm.plan(_fitted_drift_model(env, 1), frames[:, :1], 0)
    with pytest.raises(ValueError, match=r"^action_dim is required to plan with a model that is not an MLPWorldModel$"):
        owm.plan(torch.nn.Linear(6, 2), frames, 0)


def test_owm_counts_every_dropped_window(env_cache):
    env = env_cache("PointMaze")
    data = collect("PointMaze", episodes=1, length=15, seed=3, progress=False)
    frames, actions = windows_of(data, [0], 3, env.frameskip, stride=1)
    frames, actions = frames[:4].clone(), actions[:4]
    frames[[0, 2], 0, :2] = torch.tensor([100.0, 100.0])          # two starts outside the maze
    owm = OnlineWorldModeling(env, 1, torch.ones(4))
    kept, _ = owm.execute(frames, actions, torch.zeros(4, 2, env.planner_action_dim))
    assert owm.dropped == 2 and len(kept) == 2


def test_replay_cache_entries_hold_frames_and_actions():
    cache = ReplayCache()
    frames, actions = torch.randn(2, 4, 3), torch.randn(2, 3, 2)
    cache.add(1, frames, actions)
    (entry,) = cache.entries(1)
    assert set(entry) == {"frames", "actions"}
    assert torch.equal(entry["frames"], frames) and torch.equal(entry["actions"], actions)


def test_row_spread_is_each_rows_std_over_its_dims_and_the_magnitude_of_a_single_dim():
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 3 + 1
    centred = x - x.mean(1, keepdim=True)
    torch.testing.assert_close(row_spread(x), (centred ** 2).sum(1).div(4).sqrt(), rtol=1e-12, atol=0)
    torch.testing.assert_close(row_spread(x[:, 2:3]), x[:, 2].abs(), rtol=0, atol=0)
