"""A noisy scripted expert for Pusher: reach behind the object, then push it slowly.

It picks a push direction (from the shoulder through the object, turned by up
to ``TURN``), moves the wrist (body ``tips_arm``) to ``LIFT`` above a point
``BEHIND`` behind the object, lowers it to the object's height, then pushes
towards a point ``DEPTH`` past the object's centre with the wrist's speed
capped at ``PUSH_SPEED`` for a random number of steps (``PUSH_STEPS``), and
starts again; it re-approaches if the object slips more than ``SLIP``
sideways. ``Pusher-v5``'s object weighs 8 mg and its contact is soft: a wrist
faster than about 0.05 m/s passes through it.

Control (resolved rate): the joint velocity ``qdot* = J^T (J J^T + lam I)^-1 e``
(``lam`` = ``LEAST_SQUARES_DAMPING``) moves the wrist at
``e_pos = min(GAIN |d|, v_max) d / |d|`` towards its target (``d`` the
position error; ``v_max`` is ``APPROACH_SPEED``, or ``PUSH_SPEED`` while
pushing) and levels the fork (``e_rot``, the two tilt rows of ``z x up``),
``J`` [5, 7] being the matching rows of the wrist's Jacobian; the torque
``M (qdot* - qdot) / TRACK_TIME + damping * qdot`` reaches it, plus Gaussian
noise of std ``noise`` times the torque bound, clipped to it.
"""

from __future__ import annotations

import mujoco
import numpy as np

SHOULDER = np.array([0.0, -0.6])
"""World xy of the arm's shoulder pan joint."""
TABLE_Z = -0.275
"""World height of the object's centre."""
TURN = 0.5
BEHIND = 0.1
LIFT = 0.12
DEPTH = 0.1
GAIN = 5.0
PUSH_SPEED = 0.05
APPROACH_SPEED = 1.0
ARRIVAL_DISTANCE = 0.04
SLIP = 0.08
PUSH_STEPS = (40, 80)
TRACK_TIME = 0.1
LEAST_SQUARES_DAMPING = 0.01
ARM = slice(0, 7)


class PusherExpert:
    """Call with a Pusher state ``[22]``; returns an env action ``[7]`` of joint torques.

    ``env`` is a ``training.envs.pusher.Pusher``: the expert reads its MuJoCo model (and works on
    its own ``MjData``, so the env's state is untouched).
    """

    APPROACH, LOWER, PUSH = range(3)

    def __init__(self, env, rng: np.random.Generator, noise: float = 0.1):
        self.model = env.model
        self.data = mujoco.MjData(env.model)
        self.wrist = env.model.body("tips_arm").id
        self.object = env.model.body("object").id
        self.high = np.asarray(env.action_high, dtype=np.float64)
        self.rng = rng
        self.noise = noise
        self.direction = None
        self.phase = self.APPROACH
        self.push_steps_left = 0

    def _choose_direction(self, obj: np.ndarray) -> np.ndarray:
        away = obj - SHOULDER
        angle = np.arctan2(away[1], away[0]) + self.rng.uniform(-TURN, TURN)
        return np.array([np.cos(angle), np.sin(angle)])

    def _target(self, wrist: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, float]:
        """The wrist's target [3] and speed cap; advances the phase."""
        behind = obj - BEHIND * self.direction
        if self.phase == self.APPROACH:
            if np.linalg.norm(wrist[:2] - behind) < ARRIVAL_DISTANCE:
                self.phase = self.LOWER
            else:
                return np.r_[behind, TABLE_Z + LIFT], APPROACH_SPEED
        if self.phase == self.LOWER:
            if np.linalg.norm(wrist - np.r_[behind, TABLE_Z]) < ARRIVAL_DISTANCE:
                self.phase = self.PUSH
                self.push_steps_left = int(self.rng.integers(*PUSH_STEPS))
            else:
                return np.r_[behind, TABLE_Z], APPROACH_SPEED
        side = np.array([-self.direction[1], self.direction[0]])
        self.push_steps_left -= 1
        if abs(float(np.dot(wrist[:2] - obj, side))) > SLIP or self.push_steps_left <= 0:
            self.phase = self.APPROACH
            if self.push_steps_left <= 0:
                self.direction = self._choose_direction(obj)
        return np.r_[obj + DEPTH * self.direction, TABLE_Z], PUSH_SPEED

    def _torque(self, target: np.ndarray, speed: float) -> np.ndarray:
        model, data = self.model, self.data
        jac_pos, jac_rot = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacBody(model, data, jac_pos, jac_rot, self.wrist)
        error = target - data.xpos[self.wrist]
        distance = float(np.linalg.norm(error))
        velocity = error * min(GAIN, speed / max(distance, 1e-9))
        tilt = np.cross(data.xmat[self.wrist].reshape(3, 3)[:, 2], (0.0, 0.0, 1.0))[:2]
        jac = np.vstack([jac_pos[:, ARM], jac_rot[:2, ARM]])
        damped = jac @ jac.T + LEAST_SQUARES_DAMPING * np.eye(len(jac))
        qdot = jac.T @ np.linalg.solve(damped, np.r_[velocity, tilt])
        inertia = np.zeros((model.nv, model.nv))
        mujoco.mj_fullM(model, data, inertia)
        current = data.qvel[ARM]
        return inertia[ARM, ARM] @ (qdot - current) / TRACK_TIME + model.dof_damping[ARM] * current

    def __call__(self, state) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        model, data = self.model, self.data
        data.qpos[:] = state[: model.nq]
        data.qvel[:] = state[model.nq :]
        mujoco.mj_forward(model, data)
        wrist, obj = data.xpos[self.wrist].copy(), data.xpos[self.object][:2].copy()
        if self.direction is None:
            self.direction = self._choose_direction(obj)
        torque = self._torque(*self._target(wrist, obj))
        torque += self.noise * self.high * self.rng.standard_normal(len(torque))
        return np.clip(torque, -self.high, self.high)
