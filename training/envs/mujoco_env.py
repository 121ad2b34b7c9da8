"""MuJoCo-backed environments: state = (qpos, qvel), exact set_state, headless rendering.

The constraint solver's warm start is disabled, so the next state depends on
(qpos, qvel, action) only and a recorded trajectory replays exactly from any
of its states. The render camera frames the model's bodies (not the floor) and
follows its root bodies.
"""

from __future__ import annotations

import mujoco
import numpy as np

from .base import Env
from .render import TopDownCanvas
from .success import NoDefaultSuccess, Success, default_success, hinge_dims, state_names

JOINT_RANGE_TOLERANCE = 0.5
"""How far (rad or m) a limited joint may sit outside its range. MuJoCo's limits are soft: under
random torques Reacher-v5's elbow overshoots its [-3, 3] range by up to 0.25 rad, HalfCheetah-v5's
feet by 0.12; states the simulator reached must stay settable."""
VIEW_MARGIN = 2.5
"""Camera distance over the radius the bodies can reach (a 45 degree field of view holds 2.4)."""
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
        self.state_names = tuple(state_names(model))
        self._bounds = self._joint_bounds()
        self._renderer = None
        self._gl_failed = False
        self._radius = self._view_radius()

    def get_state(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def _write_state(self, state: np.ndarray) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = state[: self.model.nq]
        self.data.qvel[:] = state[self.model.nq :]
        mujoco.mj_forward(self.model, self.data)

    def _joint_bounds(self) -> list[tuple[str, int, float, float]]:
        """(name, qpos index, low, high) of each limited hinge or slide: its range, widened to hold
        the model's reference pose (some models start outside a range, e.g. Ant-v5's ankles), then by
        ``JOINT_RANGE_TOLERANCE`` on each side."""
        model, bounds = self.model, []
        for j in range(model.njnt):
            if not model.jnt_limited[j] or int(model.jnt_type[j]) not in BOUNDED_JOINT_TYPES:
                continue
            adr = int(model.jnt_qposadr[j])
            low, high = min(model.jnt_range[j][0], model.qpos0[adr]), max(model.jnt_range[j][1], model.qpos0[adr])
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)
            bounds.append((name, adr, float(low) - JOINT_RANGE_TOLERANCE, float(high) + JOINT_RANGE_TOLERANCE))
        return bounds

    def check_state(self, state: np.ndarray) -> None:
        """Reject limited hinge/slide joints that sit outside their (widened) range."""
        for name, adr, low, high in self._bounds:
            if not low <= state[adr] <= high:
                raise ValueError(f"state is out of bounds: joint {name!r} = {state[adr]:.4g} outside "
                                 f"[{low:.4g}, {high:.4g}] (its range and reference pose, widened by "
                                 f"{JOINT_RANGE_TOLERANCE} for soft limits)")

    def _roots(self) -> np.ndarray:
        """The bodies attached to the world."""
        return np.flatnonzero((self.model.body_parentid == 0) & (np.arange(self.model.nbody) > 0))

    def _view_radius(self) -> float:
        """The radius, around the root bodies' mean position in the reference pose, of a sphere that
        holds every geom of the bodies (not the world's floor or arena): each root's geoms are
        measured from that root, so limbs turning about it stay inside."""
        model, data = self.model, mujoco.MjData(self.model)
        mujoco.mj_forward(model, data)
        own = np.flatnonzero(model.geom_bodyid > 0)
        if not len(own) or not len(self._roots()):
            return float(model.stat.extent)
        roots = model.body_rootid[model.geom_bodyid[own]]
        reach = np.linalg.norm(data.geom_xpos[own] - data.xpos[roots], axis=1) + model.geom_rbound[own]
        centre = data.xpos[self._roots()].mean(axis=0)
        return float(max(np.linalg.norm(data.xpos[r] - centre) + reach[roots == r].max() for r in set(roots)))

    def _camera(self) -> mujoco.MjvCamera:
        """The camera for ``render``: a free camera on the root bodies' mean position (a locomotion
        body stays in view), far enough to hold the bodies' reach."""
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        roots = self._roots()
        camera.lookat[:] = self.data.xpos[roots].mean(axis=0) if len(roots) else self.model.stat.center
        camera.distance = VIEW_MARGIN * max(self._radius, 0.05)
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

    State ``[nq + nv]`` = (qpos, qvel) of the MuJoCo model (``state_names``), not the gymnasium
    observation. One env action is one ``step`` of the gymnasium env (its own ``frame_skip``
    MuJoCo steps); ``terminated`` is ignored. Start states come from the gymnasium env's
    ``reset``.

    A task is two states of one fresh trajectory of uniform random env actions (the default
    collection policy), so the goal is reachable: the start is the state after a random
    ``0..start_steps`` steps from ``reset``, the goal the state ``goal_steps`` planner actions
    (``goal_steps * frameskip`` env actions) later. Success (``success``): the error over
    ``success_dims`` (default: ``training.envs.success.default_success``) within
    ``success_tol``, hinge angles wrapped.
    """

    def __init__(
        self,
        env_id: str,
        frameskip: int = 5,
        goal_steps: int = 5,
        start_steps: int = 75,
        success_dims=None,
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
        for name, value, minimum in (("frameskip", frameskip, 1), ("goal_steps", goal_steps, 1),
                                     ("start_steps", start_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        self.frameskip, self.goal_steps, self.start_steps = int(frameskip), int(goal_steps), int(start_steps)
        self.action_low = sim.action_space.low.astype(np.float64)
        self.action_high = sim.action_space.high.astype(np.float64)
        self.action_dim = self.action_low.shape[0]
        self._success = self._make_success(success_dims, success_tol)

    def _make_success(self, dims, tol) -> Success | NoDefaultSuccess:
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not np.isfinite(tol) or tol <= 0:
            raise ValueError(f"success_tol must be a finite number > 0, got {tol!r}")
        if dims is None:
            try:
                return default_success(self.model, self.name, float(tol))
            except NoDefaultSuccess as err:
                return err
        dims = tuple(int(d) for d in dims)
        if not dims or len(set(dims)) != len(dims) or not all(0 <= d < self.state_dim for d in dims):
            raise ValueError(f"success_dims must be distinct state indices in [0, {self.state_dim}) "
                             f"for {self.name}, got {list(dims)}")
        return Success(dims, float(tol), tuple(d for d in dims if d in hinge_dims(self.model)))

    @property
    def success(self) -> Success:
        """What reaching a goal means; raises ``NoDefaultSuccess`` if the env has no default."""
        if isinstance(self._success, NoDefaultSuccess):
            raise self._success
        return self._success

    @property
    def unwrap_dims(self) -> tuple:
        """Success dims of hinges without limits: a goal angle may be moved by 2 pi toward the
        current one (a limited hinge cannot go the short way round its limit)."""
        return tuple(d for d in self.success.angle_dims if d in hinge_dims(self.model, limited=False))

    def _apply(self, action: np.ndarray) -> None:
        self.sim.step(action)

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        self.sim.reset(seed=int(rng.integers(2**31)))
        return self.get_state()

    def _random_steps(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        for _ in range(steps):
            self.step_env(rng.uniform(self.action_low, self.action_high))
        return self.get_state()

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        warmup = int(rng.integers(self.start_steps + 1))
        self.set_state(self.sample_start(rng))
        start = self._random_steps(rng, warmup)
        return start, self._random_steps(rng, self.goal_steps * self.frameskip)

    def is_success(self, state, goal) -> bool:
        return bool(self.success.reached(state, goal))
