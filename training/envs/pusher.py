"""Pusher: gymnasium's ``Pusher-v5`` arm pushing a cylinder on a table.

State ``[22]`` = (qpos, qvel): 7 arm joints, object slide (y, x), goal-marker
slide (y, x), then the 11 velocities. The goal marker has no collision and
does not move the rest. Env action ``[7]`` = joint torques in [-2, 2] (one
``Pusher-v5`` step, 5 MuJoCo steps).

A task: the start and goal are ``TASK_GAP`` = 50 env steps apart along a
trajectory of the noisy scripted pushing expert (``PusherExpert``), after a
random ``0..MAX_TASK_WARMUP`` expert steps from ``Pusher-v5``'s reset
distribution; a segment in which the object moves less than
``MIN_TASK_PUSH`` is drawn again, so the start never already succeeds. The
goal marker is put on the goal's object position in both states. Success:
object centre within ``SUCCESS_DISTANCE`` = 0.025 m (half the object's
radius) of the goal's.
"""

from __future__ import annotations

import numpy as np

from .mujoco_env import GymMujocoEnv
from .render import TopDownCanvas
from .success import Success

SUCCESS_DISTANCE = 0.025
MIN_TASK_PUSH = 2 * SUCCESS_DISTANCE
TASK_GAP = 50
MAX_TASK_WARMUP = 100
MAX_TASK_DRAWS = 100
MIN_PUSH_DISTANCE = 0.17
OBJECT = slice(7, 9)
TARGET = slice(9, 11)


class Pusher(GymMujocoEnv):
    """``Pusher-v5`` with tasks along the pushing expert's trajectories; see the module docstring."""

    def __init__(self, frameskip: int = 5, seed: int | None = None, expert_noise: float = 0.1):
        super().__init__("Pusher-v5", frameskip=frameskip, seed=seed)
        self.name = "Pusher"
        self.expert_noise = expert_noise
        self._success = Success((OBJECT.start, OBJECT.start + 1), SUCCESS_DISTANCE)

    def _sample_spot(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.uniform(-0.3, 0.0), rng.uniform(-0.2, 0.2)])

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        """``Pusher-v5``'s reset with the goal marker on a random spot of the object's region, at least
        ``MIN_PUSH_DISTANCE`` from the object (the marker only shows where a goal is)."""
        state = super().sample_start(rng)
        while True:
            target = self._sample_spot(rng)
            if np.linalg.norm(target - state[OBJECT]) > MIN_PUSH_DISTANCE:
                break
        state[TARGET] = target
        return state

    def expert_segment(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One draw of a task's trajectory: states ``[TASK_GAP + 1, 22]`` and the expert's env
        actions ``[TASK_GAP, 7]`` between them, after a random warm-up from a fresh start."""
        from .pusher_expert import PusherExpert

        expert = PusherExpert(self, rng, noise=self.expert_noise)
        self.set_state(self.sample_start(rng))
        for _ in range(int(rng.integers(0, MAX_TASK_WARMUP + 1))):
            self.step_env(expert(self.get_state()))
        states, actions = [self.get_state()], []
        for _ in range(TASK_GAP):
            actions.append(self.clip_action(expert(states[-1])))
            states.append(self.step_env(actions[-1]))
        return np.array(states), np.array(actions)

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        for _ in range(MAX_TASK_DRAWS):
            states, _ = self.expert_segment(rng)
            start, goal = states[0].copy(), states[-1].copy()
            if np.linalg.norm(goal[OBJECT] - start[OBJECT]) >= MIN_TASK_PUSH:
                start[TARGET] = goal[TARGET] = goal[OBJECT]
                return start, goal
        raise RuntimeError(f"the expert moved the object less than {MIN_TASK_PUSH} m in "
                           f"{MAX_TASK_DRAWS} segments of {TASK_GAP} steps")

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
