"""Pusher: gymnasium's ``Pusher-v5`` arm pushing a cylinder to a target.

State ``[22]`` = (qpos, qvel): 7 arm joints, object slide (y, x), goal-marker
slide (y, x), then the 11 velocities. The goal marker has no collision, so
its position in the state is the target. Env action ``[7]`` = joint torques
in [-2, 2] (one ``Pusher-v5`` step, 5 MuJoCo steps).

A task: the start is ``Pusher-v5``'s reset distribution with the target moved
to a random spot of the same region (at least ``MIN_PUSH_DISTANCE`` from the
object); the goal state is the start with the object on the target and every
velocity zero. Success: object centre within ``SUCCESS_DISTANCE`` = 0.05 m
(one object radius) of the target.
"""

from __future__ import annotations

import numpy as np

from .mujoco_env import GymMujocoEnv
from .render import TopDownCanvas
from .success import Success

SUCCESS_DISTANCE = 0.05
MIN_PUSH_DISTANCE = 0.17
OBJECT = slice(7, 9)
TARGET = slice(9, 11)


class Pusher(GymMujocoEnv):
    """``Pusher-v5`` with an object-on-target task; see the module docstring."""

    def __init__(self, frameskip: int = 5, seed: int | None = None):
        super().__init__("Pusher-v5", frameskip=frameskip, seed=seed)
        self.name = "Pusher"
        self._success = Success((OBJECT.start, OBJECT.start + 1), SUCCESS_DISTANCE)

    def _sample_spot(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-0.3, 0.0), rng.uniform(-0.2, 0.2)])

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        state = super().sample_start(rng)
        while True:
            target = self._sample_spot(rng)
            if np.linalg.norm(target - state[OBJECT]) > MIN_PUSH_DISTANCE:
                break
        state[TARGET] = target
        return state

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        start = self.sample_start(rng)
        goal = start.copy()
        goal[OBJECT] = start[TARGET]
        goal[self.model.nq :] = 0.0
        return start, goal

    def _camera(self):
        camera = super()._camera()
        camera.lookat[:] = (0.3, -0.2, -0.3)
        camera.distance = 2.0
        camera.elevation = -55.0
        return camera

    def _draw_fallback(self, goal) -> np.ndarray:
        canvas = TopDownCanvas((-0.2, 1.2, -1.0, 0.4), self.image_size)
        body = self.data.body
        canvas.disc(body("goal").xpos[:2], 0.08, (230, 150, 150))
        canvas.disc(body("object").xpos[:2], 0.05, (60, 60, 60))
        for name in ("r_shoulder_pan_link", "r_upper_arm_link", "r_forearm_link", "tips_arm"):
            canvas.disc(body(name).xpos[:2], 0.03, (30, 60, 220))
        return canvas.to_array()
