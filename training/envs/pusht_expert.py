"""A noisy scripted expert for PushT: walk behind the block, then push it.

It picks a push direction (towards the arena centre, turned by up to 60
degrees, with the approach point inside the arena), walks (at most ``APPROACH_SPEED``) to a point
``APPROACH_OFFSET`` behind the block along that direction (detouring around
the block if it is in the way), then pushes at ``PUSH_SPEED`` towards a
point ``PUSH_DEPTH`` past the block's centre for a random number of steps,
and repeats. Gaussian noise of standard deviation ``noise`` is added to
every action.
"""

from __future__ import annotations

import numpy as np

from .pusht import ACTION_SCALE, AGENT_RADIUS, ARENA

APPROACH_OFFSET = 110.0
PUSH_DEPTH = 60.0
PUSH_SPEED = 0.25
APPROACH_SPEED = 0.6
ARRIVAL_DISTANCE = 25.0
DETOUR_CLEARANCE = 90.0
PUSH_STEPS = (10, 30)
MAX_APPROACH_STEPS = 40
EDGE = AGENT_RADIUS + 5.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _distance_to_segment(p, a, b) -> float:
    ab = b - a
    t = np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-9), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * ab)))


class PushTExpert:
    """Call with a PushT state ``[10]``; returns an env action ``[2]`` in [-1, 1]^2."""

    def __init__(self, rng: np.random.Generator, noise: float = 0.1):
        self.rng = rng
        self.noise = noise
        self.direction = None
        self.approach_steps = 0
        self.push_steps_left = 0

    def _choose_direction(self, block: np.ndarray) -> np.ndarray:
        to_center = np.arctan2(ARENA / 2 - block[1], ARENA / 2 - block[0])
        for _ in range(20):
            angle = to_center + self.rng.uniform(-np.pi / 3, np.pi / 3)
            direction = np.array([np.cos(angle), np.sin(angle)])
            behind = block - APPROACH_OFFSET * direction
            if np.all(behind > EDGE) and np.all(behind < ARENA - EDGE):
                break
        return direction

    def _approach(self, agent: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Unnoised action towards the point behind the block; starts a push on arrival."""
        behind = block - APPROACH_OFFSET * self.direction
        self.approach_steps += 1
        if np.linalg.norm(agent - behind) < ARRIVAL_DISTANCE:
            self.push_steps_left = int(self.rng.integers(*PUSH_STEPS))
            return self._push(agent, block)
        if self.approach_steps > MAX_APPROACH_STEPS:
            self.direction = self._choose_direction(block)
            self.approach_steps = 0
            behind = block - APPROACH_OFFSET * self.direction
        if _distance_to_segment(block, agent, behind) < DETOUR_CLEARANCE:
            side = np.array([-self.direction[1], self.direction[0]])
            side *= np.sign(np.dot(side, agent - block)) or 1.0
            behind = block + APPROACH_OFFSET * _unit(side - 0.5 * self.direction)
        step = (np.clip(behind, EDGE, ARENA - EDGE) - agent) / ACTION_SCALE
        return step * min(1.0, APPROACH_SPEED / max(float(np.linalg.norm(step)), 1e-9))

    def _push(self, agent: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Unnoised action pushing through the block; ends the push when its steps run out."""
        action = PUSH_SPEED * _unit(block + PUSH_DEPTH * self.direction - agent)
        self.push_steps_left -= 1
        if self.push_steps_left <= 0:
            self.direction = None
        return action

    def __call__(self, state) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        agent, block = state[:2], state[2:4]
        if self.direction is None:
            self.direction = self._choose_direction(block)
            self.approach_steps = 0
            self.push_steps_left = 0
        if self.push_steps_left > 0:
            action = self._push(agent, block)
        else:
            action = self._approach(agent, block)
        return np.clip(action + self.noise * self.rng.standard_normal(2), -1.0, 1.0)
