"""gym:<id> envs: default success per joint type, wrapped angle errors, reachable tasks, soft joint
limits, and a camera that frames the body."""
import numpy as np
import pytest

pytest.importorskip("mujoco")

import mujoco  # noqa: E402

from training.data import collect  # noqa: E402
from training.envs import make  # noqa: E402
from training.envs.mujoco_env import GymMujocoEnv  # noqa: E402
from training.envs.success import NoDefaultSuccess, Success, default_success  # noqa: E402

# (success dims, angle dims) read off each model's MJCF by hand
DEFAULTS = {
    "gym:Reacher-v5": ((0, 1, 2, 3), (0, 1)),            # joint0, joint1 (hinges), target_x/y (limited slides)
    "gym:Swimmer-v5": ((2, 3, 4), (2, 3, 4)),            # slider1/2 are unlimited root slides
    "gym:HalfCheetah-v5": (tuple(range(2, 9)), tuple(range(2, 9))),   # rootx, rootz left out
    "gym:InvertedPendulum-v5": ((0, 1), (1,)),            # the slider is limited
    "gym:Ant-v5": (tuple(range(7, 15)), tuple(range(7, 15))),         # the free root (7 qpos) left out
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_default_success_dims_follow_the_joint_types(env_cache, name):
    success = env_cache(name).success
    assert (success.dims, success.angle_dims, success.tol) == (*DEFAULTS[name], 0.1)


def test_an_env_of_free_bodies_has_no_default_and_says_what_to_pass():
    xml = '<mujoco><worldbody><body><freejoint name="root"/><geom size="0.1"/></body></worldbody></mujoco>'
    with pytest.raises(NoDefaultSuccess, match=r"root \(free joint\).*pass success_dims"):
        default_success(mujoco.MjModel.from_xml_string(xml), "gym:Ball-v0", 0.1)


def test_success_wraps_angle_errors():
    success = Success(dims=(0, 2), tol=0.2, angle_dims=(0,))
    rng = np.random.default_rng(0)
    states, goals = rng.uniform(-20, 20, (50, 3)), rng.uniform(-20, 20, (50, 3))
    angle = np.angle(np.exp(1j * (states[:, 0] - goals[:, 0])))      # independent wrap
    reference = np.hypot(angle, states[:, 2] - goals[:, 2])
    np.testing.assert_allclose(success.distance(states, goals), reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(success.reached(states, goals), reference < 0.2)
    assert success.reached([2 * np.pi + 0.05, 9.0, 1.0], [0.0, -9.0, 1.1])
    assert not success.reached([0.0, 0.0, 1.0], [0.0, 0.0, 1.3])


def test_success_dims_and_tol_can_be_set(env_cache):
    env = make("gym:Reacher-v5", success_dims=[1, 4], success_tol=0.5)
    assert env.success == Success((1, 4), 0.5, (1,))    # qvel dims are never angles
    assert env.unwrap_dims == ()                         # joint1 is limited
    assert env_cache("gym:Reacher-v5").unwrap_dims == (0,)
    for kwargs, match in [({"success_dims": [0, 8]}, "success_dims must be distinct state indices in \\[0, 8\\)"),
                          ({"success_dims": []}, "success_dims"), ({"success_tol": 0.0}, "success_tol"),
                          ({"goal_steps": 0}, "goal_steps"), ({"start_steps": -1}, "start_steps")]:
        with pytest.raises(ValueError, match=match):
            make("gym:Reacher-v5", **kwargs)


class RecordingEnv(GymMujocoEnv):
    """Records every env action it applies."""

    def _apply(self, action):
        self.applied.append(np.array(action))
        super()._apply(action)


@pytest.mark.parametrize("goal_steps", [1, 3])
def test_a_task_goal_is_goal_steps_ahead_on_a_random_trajectory(goal_steps):
    env = RecordingEnv("Swimmer-v5", goal_steps=goal_steps, start_steps=10)
    rng = np.random.default_rng(3)
    for _ in range(4):
        env.applied = []
        start, goal = env.sample_task(rng)
        k = goal_steps * env.frameskip
        assert k <= len(env.applied) <= k + 10
        tail = np.stack(env.applied[-k:])
        assert (np.abs(tail) <= 1).all() and tail.std() > 0.3          # uniform random actions
        replay = make("gym:Swimmer-v5")
        np.testing.assert_array_equal(replay.rollout(start, tail)[-1], goal)


def test_soft_limit_overshoot_is_accepted_and_far_off_states_refused(env_cache):
    reacher = env_cache("gym:Reacher-v5")                 # joint1's range is [-3, 3]
    state = reacher.reset(seed=0)
    state[1] = 3.25
    reacher.set_state(state)
    state[1] = 3.6
    with pytest.raises(ValueError, match="joint 'joint1' = 3.6 outside"):
        reacher.set_state(state)
    ant = env_cache("gym:Ant-v5")                         # its reset puts two ankles outside their ranges
    for seed in range(3):
        ant.set_state(ant.reset(seed=seed))


def test_collected_episodes_beyond_a_soft_limit_replay_and_render():
    data = collect("gym:Reacher-v5", 20, 60, seed=0, progress=False)
    over = np.abs(data.states[..., 1]) > 3.0
    assert over.any()                                     # random torques push joint1 past its limit
    env = make("gym:Reacher-v5")
    e, t = np.argwhere(over)[0]
    env.set_state(data.states[e, t])
    assert env.render().shape == (224, 224, 3)


def body_pixels(env, state) -> float:
    """Share of the image that changes when the bodies' geoms are hidden."""
    env.set_state(state)
    shown = env.render().astype(int)
    rgba = env.model.geom_rgba.copy()
    env.model.geom_rgba[env.model.geom_bodyid > 0, 3] = 0.0
    hidden = env.render().astype(int)
    env.model.geom_rgba[:] = rgba
    return float((np.abs(shown - hidden).sum(-1) > 30).mean())


def whole_model_camera(env):
    """A camera over the whole model's extent, floor included."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = env.model.stat.center
    camera.distance = 1.5 * env.model.stat.extent
    camera.elevation, camera.azimuth = -45.0, 90.0
    return camera


@pytest.mark.parametrize("name", ["gym:HalfCheetah-v5", "gym:Reacher-v5", "gym:Swimmer-v5"])
def test_the_camera_frames_the_body_and_follows_it(name):
    env = make(name)
    state = env.reset(seed=0)
    env.render()
    if env._renderer is None:
        pytest.skip("no OpenGL: the top-down drawing is used")
    framed = body_pixels(env, state)
    env._camera = lambda: whole_model_camera(env)
    assert framed > 4 * body_pixels(env, state)            # 5-17x on these envs
    del env._camera
    state[0] += 30.0                                        # 30 m down the track (Reacher: joint0, a turn)
    assert body_pixels(env, state) > 0.5 * framed
