"""MuJoCo-backed environments: state = (qpos, qvel), exact set_state, headless rendering.

The constraint solver's warm start is disabled, so the next state depends on
(qpos, qvel, action) only and a recorded trajectory replays exactly from any
of its states.
"""

from __future__ import annotations

import mujoco
import numpy as np

from .base import Env
from .render import TopDownCanvas

JOINT_RANGE_TOLERANCE = 0.1
"""How far (rad or m) a limited joint may sit outside its range: soft limits let it overshoot a little."""
BOUNDED_JOINT_TYPES = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


class MujocoStateEnv(Env):
    """An ``Env`` over a MuJoCo ``model``/``data`` pair; state ``[nq + nv]`` = (qpos, qvel).

    Subclasses call ``_init_mujoco(model, data)`` and implement ``_apply``.
    """

    image_size = 224

    def _init_mujoco(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        self.model, self.data = model, data
        self.model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_WARMSTART)
        self.state_dim = model.nq + model.nv
        self._renderer = None
        self._gl_failed = False

    def get_state(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def _write_state(self, state: np.ndarray) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = state[: self.model.nq]
        self.data.qvel[:] = state[self.model.nq :]
        mujoco.mj_forward(self.model, self.data)

    def check_state(self, state: np.ndarray) -> None:
        """Reject limited hinge/slide joints that sit outside their range."""
        model = self.model
        for j in range(model.njnt):
            if not model.jnt_limited[j] or int(model.jnt_type[j]) not in BOUNDED_JOINT_TYPES:
                continue
            low, high = model.jnt_range[j]
            value = state[model.jnt_qposadr[j]]
            if not low - JOINT_RANGE_TOLERANCE <= value <= high + JOINT_RANGE_TOLERANCE:
                name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
                raise ValueError(
                    f"state is out of bounds: joint {name!r} = {value:.4g} outside [{low:.4g}, {high:.4g}]"
                )

    def _camera(self) -> mujoco.MjvCamera:
        """The camera for ``render``: a free camera over the whole model."""
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = self.model.stat.center
        camera.distance = 1.5 * self.model.stat.extent
        camera.elevation = -45.0
        camera.azimuth = 90.0
        return camera

    def _show_goal(self, goal: np.ndarray | None) -> None:
        """Mark ``goal`` in the scene (no-op unless the task has a goal marker)."""

    def _draw_fallback(self, goal: np.ndarray | None) -> np.ndarray:
        """Top-down drawing of body positions, for machines without OpenGL."""
        xy = self.data.xpos[1:, :2]
        half = max(float(np.abs(xy).max()) * 1.2, 0.5)
        canvas = TopDownCanvas((-half, half, -half, half), self.image_size)
        for point in xy:
            canvas.disc(point, half / 40, (40, 80, 200))
        return canvas.to_array()

    def render(self, goal: np.ndarray | None = None) -> np.ndarray:
        """RGB ``[224, 224, 3]`` uint8: MuJoCo's renderer if OpenGL works, else a top-down drawing."""
        self._show_goal(goal)
        if not self._gl_failed and self._renderer is None:
            try:
                self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
            except Exception:
                self._gl_failed = True
        if self._renderer is None:
            return self._draw_fallback(goal)
        self._renderer.update_scene(self.data, camera=self._camera())
        return np.asarray(self._renderer.render(), dtype=np.uint8).copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class GymMujocoEnv(MujocoStateEnv):
    """Any gymnasium MuJoCo env (``gymnasium.envs.mujoco.MujocoEnv``) by id.

    State ``[nq + nv]`` = (qpos, qvel); one env action is one ``step`` of the
    gymnasium env (its own ``frame_skip`` MuJoCo steps); ``terminated`` is
    ignored. Start states come from the gymnasium env's ``reset``; a goal is
    the state after ``goal_steps`` random planner actions from the start, so
    it is reachable. Success: qpos within ``success_tol`` (Euclidean) of the
    goal's qpos.
    """

    def __init__(
        self,
        env_id: str,
        frameskip: int = 5,
        goal_steps: int = 5,
        success_tol: float = 0.1,
        seed: int | None = None,
        **gym_kwargs,
    ):
        import gymnasium as gym
        from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

        super().__init__(seed)
        sim = gym.make(env_id, **gym_kwargs).unwrapped
        if not isinstance(sim, MujocoEnv):
            raise ValueError(f"env_id {env_id!r} is not a gymnasium MuJoCo env (got {type(sim).__name__})")
        self.name = f"gym:{env_id}"
        self.sim = sim
        self._init_mujoco(sim.model, sim.data)
        self.frameskip = frameskip
        self.goal_steps = goal_steps
        self.success_tol = success_tol
        self.action_low = sim.action_space.low.astype(np.float64)
        self.action_high = sim.action_space.high.astype(np.float64)
        self.action_dim = self.action_low.shape[0]

    def _apply(self, action: np.ndarray) -> None:
        self.sim.step(action)

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        self.sim.reset(seed=int(rng.integers(2**31)))
        return self.get_state()

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        start = self.sample_start(rng)
        self.set_state(start)
        for _ in range(self.goal_steps * self.frameskip):
            self.step_env(rng.uniform(self.action_low, self.action_high))
        return start, self.get_state()

    def is_success(self, state, goal) -> bool:
        nq = self.model.nq
        error = np.linalg.norm(np.asarray(state)[:nq] - np.asarray(goal)[:nq])
        return bool(error < self.success_tol)
