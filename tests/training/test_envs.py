import numpy as np
import pytest

from env_cases import ALL_ENVS

pytest.importorskip("mujoco")

from training.envs import ENV_NAMES, make  # noqa: E402


def random_actions(env, rng, steps):
    return rng.uniform(env.action_low, env.action_high, size=(steps, env.action_dim))


@pytest.mark.parametrize("name", ALL_ENVS)
def test_set_state_round_trips_exactly(env_cache, name):
    env = env_cache(name)
    rng = np.random.default_rng(0)
    env.set_state(env.sample_start(rng))
    for action in random_actions(env, rng, 12):
        env.step_env(action)
    state = env.get_state()
    env.set_state(env.sample_start(rng))
    env.set_state(state)
    np.testing.assert_array_equal(env.get_state(), state)
    assert env.get_state().shape == (env.state_dim,)


@pytest.mark.parametrize("name", ALL_ENVS)
def test_step_is_a_function_of_state_and_action(env_cache, name):
    env = env_cache(name)
    rng = np.random.default_rng(1)
    start = env.sample_start(rng)
    actions = random_actions(env, rng, 3 * env.frameskip)
    planner_actions = actions.reshape(3, env.planner_action_dim)
    env.set_state(start)
    first = [env.step(a) for a in planner_actions]
    # Disturb the simulator, then replay from the middle and from the start.
    env.set_state(env.sample_start(rng))
    env.step(planner_actions[0])
    env.set_state(first[0])
    np.testing.assert_array_equal(env.step(planner_actions[1]), first[1])
    states = env.rollout(start, actions)
    np.testing.assert_array_equal(states[env.frameskip :: env.frameskip], np.stack(first))
    assert not np.array_equal(first[0], start)


@pytest.mark.parametrize("name", ALL_ENVS)
def test_task_pairs_are_valid_start_states(env_cache, name):
    env = env_cache(name)
    rng = np.random.default_rng(2)
    for _ in range(5):
        start, goal = env.sample_task(rng)
        assert start.shape == goal.shape == (env.state_dim,)
        env.check_state(start)
        env.check_state(goal)
        assert not env.is_success(start, goal) or name in ("PushT", "PointMaze")  # may start solved
        assert env.is_success(goal, goal)


def test_pointmaze_tasks_are_free_and_clear_of_walls_with_random_velocities(env_cache):
    from training.envs.point_maze import START_SPEED, WALL_CLEARANCE

    env = env_cache("PointMaze")
    rng = np.random.default_rng(3)
    velocities = []
    for _ in range(100):
        start, goal = env.sample_task(rng)
        for state in (start, goal):
            row, col = env.cell_of(state[:2])
            assert env.walls[row, col] == 0
            assert env.clearance(state[:2]) >= WALL_CLEARANCE
            velocities.append(state[2:])
        assert env.connected(start[:2], goal[:2])
    velocities = np.concatenate(velocities)
    assert np.all(np.abs(velocities) <= START_SPEED)
    assert np.abs(velocities).max() > 0.9 * START_SPEED  # uniform over the whole range, not at rest


def test_pointmaze_clearance_is_the_axis_distance_to_the_nearest_wall(env_cache):
    env = env_cache("PointMaze")
    free = env.cell_center(env.free_cells[0])
    wall = np.argwhere(env.walls)
    # The nearest wall box by the L-infinity distance, computed from the box corners directly.
    lows = np.array([env.cell_center(cell) for cell in wall]) - env.scale / 2
    for xy in free + np.random.default_rng(4).uniform(-0.45, 0.45, size=(20, 2)) * env.scale:
        gaps = np.maximum(np.maximum(lows - xy, xy - (lows + env.scale)), 0.0)
        assert env.clearance(xy) == pytest.approx(gaps.max(axis=1).min())
    assert env.clearance(env.cell_center(tuple(wall[0]))) == 0.0


def test_pointmaze_env_action_is_five_mujoco_steps_after_one_velocity_clip(env_cache):
    import mujoco

    from training.envs.point_maze import SUBSTEPS

    env = env_cache("PointMaze")
    rng = np.random.default_rng(5)
    for _ in range(5):
        start, action = env.sample_start(rng), rng.uniform(-1.0, 1.0, 2)
        start[2:] = [6.0, -5.5]  # over the clip, as a state after a push may be
        env.set_state(start)
        got = env.step_env(action)
        reference = mujoco.MjData(env.model)
        reference.qpos[:], reference.qvel[:], reference.ctrl[:] = start[:2], np.clip(start[2:], -5, 5), action
        mujoco.mj_step(env.model, reference, nstep=SUBSTEPS)
        np.testing.assert_allclose(got, np.concatenate([reference.qpos, reference.qvel]), rtol=0, atol=1e-12)


def test_pointmaze_success_threshold(env_cache):
    env = env_cache("PointMaze")
    goal = np.array([1.0, 1.0, 0.0, 0.0])
    assert env.is_success(goal + [0.3, 0.39, 2.0, -2.0], goal)  # distance 0.492, speed ignored
    assert not env.is_success(goal + [0.3, 0.41, 0.0, 0.0], goal)  # distance 0.508


def test_pointmaze_rejects_states_inside_walls(env_cache):
    env = env_cache("PointMaze")
    wall_cell = tuple(np.argwhere(env.walls)[0])
    with pytest.raises(ValueError, match="state"):
        env.set_state(np.concatenate([env.cell_center(wall_cell), [0.0, 0.0]]))
    with pytest.raises(ValueError, match="state"):
        env.set_state([10.0, 0.0, 0.0, 0.0])


def test_wall_tasks_cross_the_wall(env_cache):
    from training.envs.wall import CLEARANCE, ROOM_HALF, WALL_HALF_THICKNESS

    env = env_cache("Wall")
    rng = np.random.default_rng(4)
    starts = []
    for _ in range(200):
        start, goal = env.sample_task(rng)
        assert np.sign(start[0]) == -np.sign(goal[0])
        for xy in (start, goal):
            assert WALL_HALF_THICKNESS + CLEARANCE <= abs(xy[0]) <= ROOM_HALF - CLEARANCE
            assert abs(xy[1]) <= ROOM_HALF - CLEARANCE
        starts.append(start[0] < 0)
    assert 0.35 < np.mean(starts) < 0.65  # either side first, as released


def test_wall_free_moves_add_step_times_action(env_cache):
    from training.envs.wall import STEP

    env = env_cache("Wall")
    for start, action in (([-0.5, 0.3], [1.0, -0.4]), ([0.6, -0.7], [-1.8, 1.8]), ([-0.05, 0.0], [1.5, 0.2])):
        env.set_state(start)
        np.testing.assert_allclose(env.step_env(action), np.array(start) + STEP * np.array(action), rtol=0, atol=1e-15)
    env.set_state([0.5, 0.5])
    np.testing.assert_allclose(env.step_env([5.0, -5.0]), [0.5 + 1.8 * STEP, 0.5 - 1.8 * STEP], atol=1e-15)  # clipped


@pytest.mark.parametrize("start, displacement, expected", [
    # into the right border: crosses x = 1 at t = 0.5, y = 0.2 + 0.5 * 0.2
    ([0.9, 0.2], [0.2, 0.2], [1.0 - 0.5 / 28, 0.3]),
    # into the middle wall from the left: x = -3/28 at t = (0.2 - 3/28) / 0.4, y = 0.5
    ([-0.2, 0.5], [0.4, 0.0], [-3 / 28 - 0.5 / 28, 0.5]),
    # into the middle wall from the right, moving down-left
    ([0.3, -0.4], [-0.4, -0.2], [3 / 28 + 0.5 / 28, -0.4 - 0.2 * (0.3 - 3 / 28) / 0.4]),
    # inside the doorway, up into the door's top end: y = 4/28 at x = 0.02 + 0.01 * t
    ([0.02, 0.0], [0.01, 0.3], [0.02 + 0.01 * (4 / 28) / 0.3, 4 / 28 - 0.5 / 28]),
    # through the door band: no face crossed
    ([-0.3, 0.05], [0.6, -0.05], [0.3, 0.0]),
    # through the doorway then into the door's bottom end (crosses y = -4/28 before x = 3/28)
    ([-0.2, 0.0], [0.3, -0.3], [-0.2 + 0.3 * (4 / 28) / 0.3, -4 / 28 + 0.5 / 28]),
])
def test_wall_move_stops_backoff_short_of_the_first_face(start, displacement, expected):
    from training.envs.wall import move

    np.testing.assert_allclose(move(np.array(start), np.array(displacement)), expected, rtol=0, atol=1e-12)


def test_wall_moves_stay_valid_and_cross_only_through_the_door(env_cache):
    from training.envs.wall import DOOR_CENTER, DOOR_HALF_WIDTH, STEP

    env = env_cache("Wall")
    rng = np.random.default_rng(5)
    for _ in range(3000):
        start = rng.uniform(-1.0, 1.0, 2)
        try:
            env.set_state(start)
        except ValueError:
            continue
        end = env.step_env(rng.uniform(-1.8, 1.8, 2) * rng.uniform(0.5, 1.0))
        env.check_state(end)
        if np.sign(start[0]) != np.sign(end[0]) and start[0] != 0.0:
            # The segment's height where it passes x = 0 lies in the door.
            height = start[1] + (end[1] - start[1]) * start[0] / (start[0] - end[0])
            assert abs(height - DOOR_CENTER) <= DOOR_HALF_WIDTH
        assert np.linalg.norm(end - start) <= 1.8 * STEP * np.sqrt(2) + 1e-12


def test_wall_moves_aimed_at_the_door_corners_stay_out_of_the_wall(env_cache):
    from training.envs.wall import DOOR_CENTER, DOOR_HALF_WIDTH, WALL_HALF_THICKNESS, move

    env = env_cache("Wall")
    rng = np.random.default_rng(8)
    corners = [np.array([sx * WALL_HALF_THICKNESS, DOOR_CENTER + sy * DOOR_HALF_WIDTH])
               for sx in (-1, 1) for sy in (-1, 1)]
    tried = 0
    while tried < 4000:
        start = rng.uniform(-1.0, 1.0, 2)
        try:
            env.check_state(start)
        except ValueError:
            continue
        corner = corners[tried % 4]
        env.check_state(move(start, (corner - start) * rng.uniform(1.01, 3.0)))  # through the corner, to rounding
        tried += 1


def test_wall_success_threshold_and_bounds(env_cache):
    from training.envs.wall import SUCCESS_DISTANCE

    env = env_cache("Wall")
    assert SUCCESS_DISTANCE == pytest.approx(4.5 / 28)
    goal = np.array([0.5, 0.5])
    assert env.is_success(goal + [0.0, 0.16], goal)
    assert not env.is_success(goal + [0.12, 0.12], goal)  # 0.170
    with pytest.raises(ValueError, match="inside the wall"):
        env.set_state([0.0, 0.6])
    with pytest.raises(ValueError, match="outside the room"):
        env.set_state([1.5, 0.0])
    with pytest.raises(ValueError, match="shape"):
        env.set_state([0.5, 0.5, 0.0, 0.0])
    env.set_state([0.0, 0.0])  # in the doorway


def test_wall_walk_policy_matches_the_released_step_and_turn_laws(env_cache):
    from training.policies import make_policy

    env = env_cache("Wall")
    rng = np.random.default_rng(6)
    walks = [make_policy("walk", env, rng) for _ in range(50)]
    actions = np.concatenate([np.stack([walk(None) for _ in range(200)]) for walk in walks])
    lengths = np.linalg.norm(actions, axis=1)
    assert lengths.min() >= 0.2 and lengths.max() <= 1.8
    # N(1, 0.4) truncated to [0.2, 1.8]: mean 1 by symmetry, std 0.4 * sqrt(1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1))
    assert lengths.mean() == pytest.approx(1.0, abs=0.01)
    assert lengths.std() == pytest.approx(0.4 * np.sqrt(1 - 4 * 0.05399 / 0.9545), abs=0.01)
    walk = make_policy("walk", env, rng)
    headings = np.unwrap(np.arctan2(*np.stack([walk(None) for _ in range(20000)])[:, ::-1].T))
    turns = np.diff(headings)
    # von Mises with concentration 5: circular variance 1 - I1(5) / I0(5) = 0.1051
    assert 1 - np.mean(np.cos(turns)) == pytest.approx(0.1051, abs=0.005)
    assert abs(np.mean(turns)) < 0.01
    with pytest.raises(ValueError, match="Wall only"):
        make_policy("walk", env_cache("PointMaze"), rng)


def test_pusht_success_test_matches_hand_built_cases(env_cache):
    env = env_cache("PushT")
    goal = np.array([100.0, 100.0, 300.0, 300.0, 0.1, 0, 0, 0, 0, 0])
    near = goal + [10.0, 0, 0, 16.0, 0, 50, 50, 0, 0, 0]  # position error 18.9
    assert env.is_success(near, goal)
    assert not env.is_success(goal + [12.0, 0, 0, 17.0, 0, 0, 0, 0, 0, 0], goal)  # 20.8
    wrapped = goal.copy()
    wrapped[4] = 2 * np.pi - 0.2  # angle error 0.3 across 0
    assert env.is_success(wrapped, goal)
    wrapped[4] = 2 * np.pi - 0.3  # angle error 0.4 > pi / 9
    assert not env.is_success(wrapped, goal)


def test_pusht_tasks_are_25_expert_steps_apart(env_cache):
    from training.envs.pusht import TASK_GAP
    from training.envs.pusht_expert import PushTExpert

    env = env_cache("PushT")
    seed = 5
    start, goal = env.sample_task(np.random.default_rng(seed))
    # Rebuild the same trajectory by hand: warm-up length is drawn after the expert is created.
    rng = np.random.default_rng(seed)
    expert = PushTExpert(rng, noise=env.expert_noise)
    env.set_state(env.sample_start(rng))
    for _ in range(int(rng.integers(0, 51))):
        env.step_env(expert(env.get_state()))
    np.testing.assert_array_equal(env.get_state(), start)
    for _ in range(TASK_GAP):
        env.step_env(expert(env.get_state()))
    np.testing.assert_array_equal(env.get_state(), goal)


def test_pusht_expert_moves_the_block(env_cache):
    from training.envs.pusht_expert import PushTExpert

    env = env_cache("PushT")
    rng = np.random.default_rng(6)
    block_paths = []
    for _ in range(3):
        expert = PushTExpert(rng)
        states = [env.reset(seed=int(rng.integers(1000)))]
        for _ in range(100):
            states.append(env.step_env(expert(states[-1])))
        block_xy = np.stack(states)[:, 2:4]
        block_paths.append(np.linalg.norm(np.diff(block_xy, axis=0), axis=1).sum())
    assert min(block_paths) > 50.0


def test_pusht_rejects_bad_states(env_cache):
    env = env_cache("PushT")
    with pytest.raises(ValueError, match="state is out of bounds: agent"):
        env.set_state([600.0, 100.0, 300.0, 300.0, 0, 0, 0, 0, 0, 0])
    state = np.array([100.0, 100.0, 300.0, 300.0, 0.7, 0, 0, 0, 0, 0])
    state[:2] = env.block_polygons(state)[0].mean(0)  # centre of the T's bar
    with pytest.raises(ValueError, match="inside the block"):
        env.set_state(state)


def test_pusher_task_is_an_expert_segment_in_which_the_object_moves(env_cache):
    from training.envs.pusher import MIN_TASK_PUSH, OBJECT, TARGET, TASK_GAP

    env = env_cache("Pusher")
    seed = 7
    start, goal = env.sample_task(np.random.default_rng(seed))
    # The first segment of the same draws in which the object moves far enough.
    rng = np.random.default_rng(seed)
    while True:
        states, actions = env.expert_segment(rng)
        if np.linalg.norm(states[-1, OBJECT] - states[0, OBJECT]) >= MIN_TASK_PUSH:
            break
    assert actions.shape == (TASK_GAP, 7) and states.shape == (TASK_GAP + 1, 22)
    others = np.r_[0:TARGET.start, TARGET.stop:22]
    np.testing.assert_array_equal(start[others], states[0, others])
    np.testing.assert_array_equal(goal[others], states[-1, others])
    np.testing.assert_array_equal(start[TARGET], goal[OBJECT])
    np.testing.assert_array_equal(goal[TARGET], goal[OBJECT])
    # The marker moves nothing else: the expert's actions lead from the marked start to the goal.
    env.set_state(start)
    for action in actions:
        env.step_env(action)
    np.testing.assert_allclose(env.get_state(), goal, rtol=0, atol=1e-12)
    assert not env.is_success(start, goal)


def test_pusher_success_is_the_object_within_a_quarter_of_its_diameter(env_cache):
    from training.envs.pusher import OBJECT

    env = env_cache("Pusher")
    goal = env.sample_start(np.random.default_rng(3))
    near = goal.copy()
    near[OBJECT] += [0.015, 0.015]  # 0.0212 m
    near[:7] += 0.5  # the arm is not read
    assert env.is_success(near, goal)
    near[OBJECT] += [0.003, 0.003]  # 0.0255 m
    assert not env.is_success(near, goal)


def test_pusher_expert_pushes_the_object_and_leaves_the_env_alone(env_cache):
    from training.envs.pusher import OBJECT
    from training.envs.pusher_expert import PusherExpert

    env = env_cache("Pusher")
    rng = np.random.default_rng(6)
    moved = []
    for _ in range(5):
        expert = PusherExpert(env, rng)
        states = [env.reset(seed=int(rng.integers(1000)))]
        for _ in range(200):
            action = expert(states[-1])
            np.testing.assert_array_equal(env.get_state(), states[-1])
            assert action.shape == (7,) and np.all(np.abs(action) <= 2.0)
            states.append(env.step_env(action))
        moved.append(np.linalg.norm(states[-1][OBJECT] - states[0][OBJECT]))
    assert sorted(moved)[1] > 0.05, moved


def test_pusher_rejects_joint_out_of_range(env_cache):
    env = env_cache("Pusher")
    state = env.sample_start(np.random.default_rng(8))
    state[1] = 3.0  # shoulder lift range is [-0.52, 1.40]
    with pytest.raises(ValueError, match="r_shoulder_lift_joint"):
        env.set_state(state)


@pytest.mark.parametrize("name", ALL_ENVS)
def test_wrong_shapes_raise_value_errors_naming_the_argument(env_cache, name):
    env = env_cache(name)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="planner_action"):
        env.step(np.zeros(env.action_dim))
    with pytest.raises(ValueError, match="action must have shape"):
        env.step_env(np.zeros(env.action_dim + 1))
    with pytest.raises(ValueError, match="state must have shape"):
        env.set_state(np.zeros(env.state_dim + 1))
    with pytest.raises(ValueError, match="state must be finite"):
        env.set_state(np.full(env.state_dim, np.nan))


def test_actions_are_clipped_to_bounds(env_cache):
    env = env_cache("PointMaze")
    start = env.sample_start(np.random.default_rng(7))
    env.set_state(start)
    big = env.step_env([50.0, -50.0])
    env.set_state(start)
    np.testing.assert_array_equal(env.step_env([1.0, -1.0]), big)


def test_make_rejects_unknown_names():
    with pytest.raises(ValueError, match="known names: PointMaze, PushT, Wall, Pusher"):
        make("NoSuchEnv")
    with pytest.raises(ValueError, match="not a gymnasium MuJoCo env"):
        make("gym:CartPole-v1")
    assert make("wall").name == "Wall"
    assert set(ENV_NAMES) == {"PointMaze", "PushT", "Wall", "Pusher"}


def test_reset_with_seed_is_reproducible(env_cache):
    env = env_cache("PointMaze")
    np.testing.assert_array_equal(env.reset(seed=3), env.reset(seed=3))
    assert not np.array_equal(env.reset(seed=3), env.reset(seed=4))
