"""Wall: a point mass in a square room split by a wall with a door (our own MuJoCo model).

The room spans [-1, 1]^2 m; the wall occupies |x| < 0.05 except the door,
|y - DOOR_CENTER| < DOOR_HALF_WIDTH. State ``[4]`` = (x, y, vx, vy); env
action ``[2]`` = force in [-1, 1]^2 applied for 5 MuJoCo steps of 0.01 s
(damping makes the top speed about 1 m/s). A task starts on one side of the
wall and ends on the other, both at rest and at least ``CLEARANCE`` from
every wall.

Success: xy error < ``SUCCESS_DISTANCE`` = 0.140625 m. DINO-WM's Wall uses a
64-unit room and a threshold of 4.5 units; our room is 2 m wide, so the
threshold is 4.5 * 2 / 64 m.
"""

from __future__ import annotations

import mujoco
import numpy as np

from .mujoco_env import MujocoStateEnv
from .render import TopDownCanvas

ROOM_HALF = 1.0
WALL_HALF_THICKNESS = 0.05
DOOR_CENTER = 0.0
DOOR_HALF_WIDTH = 0.15
BALL_RADIUS = 0.05
CLEARANCE = 0.1
SUCCESS_DISTANCE = 4.5 * (2 * ROOM_HALF) / 64
SUBSTEPS = 5


def wall_xml() -> str:
    """The MJCF of the room: outer walls, a middle wall with a door, and the point mass."""
    h, t, r = ROOM_HALF, WALL_HALF_THICKNESS, BALL_RADIUS
    lower_len = (DOOR_CENTER - DOOR_HALF_WIDTH + h) / 2
    upper_len = (h - DOOR_CENTER - DOOR_HALF_WIDTH) / 2
    lower_y = -h + lower_len
    upper_y = h - upper_len
    return f"""
<mujoco model="wall">
  <option timestep="0.01" gravity="0 0 0" integrator="Euler"/>
  <default>
    <joint type="slide" damping="10" limited="false"/>
    <geom condim="1" friction="0 0 0" contype="1" conaffinity="1" rgba="0.35 0.35 0.35 1"/>
    <motor gear="10" ctrlrange="-1 1" ctrllimited="true"/>
  </default>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1" directional="true"/>
    <geom name="floor" type="plane" size="{h + 0.2} {h + 0.2} 0.1" contype="0" conaffinity="0" rgba="0.92 0.92 0.92 1"/>
    <geom name="wall_left" type="box" pos="{-h - t} 0 {r}" size="{t} {h + 2 * t} {r}"/>
    <geom name="wall_right" type="box" pos="{h + t} 0 {r}" size="{t} {h + 2 * t} {r}"/>
    <geom name="wall_bottom" type="box" pos="0 {-h - t} {r}" size="{h} {t} {r}"/>
    <geom name="wall_top" type="box" pos="0 {h + t} {r}" size="{h} {t} {r}"/>
    <geom name="divider_lower" type="box" pos="0 {lower_y} {r}" size="{t} {lower_len} {r}"/>
    <geom name="divider_upper" type="box" pos="0 {upper_y} {r}" size="{t} {upper_len} {r}"/>
    <site name="target" type="sphere" pos="0 0 {r}" size="{SUCCESS_DISTANCE}" rgba="0.9 0.3 0.3 0.4"/>
    <body name="point" pos="0 0 {r}">
      <joint name="x" axis="1 0 0"/>
      <joint name="y" axis="0 1 0"/>
      <geom name="point" type="sphere" size="{r}" mass="1" rgba="0.1 0.25 0.9 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="fx" joint="x"/>
    <motor name="fy" joint="y"/>
  </actuator>
</mujoco>
"""


class Wall(MujocoStateEnv):
    """The two-room point mass; see the module docstring for the task."""

    name = "Wall"
    action_dim = 2

    def __init__(self, frameskip: int = 5, seed: int | None = None):
        super().__init__(seed)
        model = mujoco.MjModel.from_xml_string(wall_xml())
        self._init_mujoco(model, mujoco.MjData(model))
        self.frameskip = frameskip
        self.action_low = -np.ones(2)
        self.action_high = np.ones(2)
        self._target_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")

    @staticmethod
    def in_door(y: float, margin: float = 0.0) -> bool:
        """Whether height ``y`` passes through the door with ``margin`` to spare."""
        return abs(y - DOOR_CENTER) < DOOR_HALF_WIDTH - margin

    def check_state(self, state: np.ndarray) -> None:
        x, y = state[:2]
        if max(abs(x), abs(y)) > ROOM_HALF:
            raise ValueError(f"state is out of bounds: xy ({x:.3g}, {y:.3g}) is outside the room [-1, 1]^2")
        if abs(x) < WALL_HALF_THICKNESS and not self.in_door(y):
            raise ValueError(f"state is out of bounds: xy ({x:.3g}, {y:.3g}) is inside the wall")

    def _apply(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = action
        mujoco.mj_step(self.model, self.data, nstep=SUBSTEPS)

    def _sample_side(self, rng: np.random.Generator, side: int) -> np.ndarray:
        margin = BALL_RADIUS + CLEARANCE
        x = side * rng.uniform(WALL_HALF_THICKNESS + margin, ROOM_HALF - margin)
        y = rng.uniform(-ROOM_HALF + margin, ROOM_HALF - margin)
        return np.array([x, y, 0.0, 0.0])

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        return self._sample_side(rng, 1 if rng.random() < 0.5 else -1)

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        side = 1 if rng.random() < 0.5 else -1
        return self._sample_side(rng, side), self._sample_side(rng, -side)

    def is_success(self, state, goal) -> bool:
        return bool(np.linalg.norm(np.asarray(state)[:2] - np.asarray(goal)[:2]) < SUCCESS_DISTANCE)

    def _camera(self):
        camera = super()._camera()
        camera.lookat[:] = (0.0, 0.0, 0.0)
        camera.distance = 3.2 * ROOM_HALF
        camera.elevation = -90.0
        return camera

    def _show_goal(self, goal) -> None:
        self.model.site_rgba[self._target_site, 3] = 0.0 if goal is None else 0.4
        if goal is not None:
            self.model.site_pos[self._target_site][:2] = np.asarray(goal)[:2]

    def _draw_fallback(self, goal) -> np.ndarray:
        h, t = ROOM_HALF, WALL_HALF_THICKNESS
        canvas = TopDownCanvas((-h - 2 * t, h + 2 * t, -h - 2 * t, h + 2 * t), self.image_size, (90, 90, 90))
        canvas.box((0, 0), (h, h), (235, 235, 235))
        lower_top, upper_bottom = DOOR_CENTER - DOOR_HALF_WIDTH, DOOR_CENTER + DOOR_HALF_WIDTH
        canvas.box((0, (-h + lower_top) / 2), (t, (lower_top + h) / 2), (90, 90, 90))
        canvas.box((0, (upper_bottom + h) / 2), (t, (h - upper_bottom) / 2), (90, 90, 90))
        if goal is not None:
            canvas.disc(np.asarray(goal)[:2], SUCCESS_DISTANCE, (230, 150, 150))
        canvas.disc(self.data.qpos[:2], BALL_RADIUS, (30, 60, 220))
        return canvas.to_array()
