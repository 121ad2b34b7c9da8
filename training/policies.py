"""Data-collection policies: random exploration, Wall's random walk and the scripted experts of
PushT and Pusher.

A policy is called with the current state ``[state_dim]`` and returns one env
action ``[action_dim]``.
"""

from __future__ import annotations

import numpy as np

from .envs import Env

MAX_HOLD = {"PointMaze": 10, "Wall": 20}
"""Random exploration holds each uniform action for 1..MAX_HOLD env steps (1 if absent)."""


class RandomPolicy:
    """Uniform actions within the env's bounds, each held for a random 1..``max_hold`` steps."""

    def __init__(self, env: Env, rng: np.random.Generator, max_hold: int = 1):
        if max_hold < 1:
            raise ValueError(f"max_hold must be >= 1, got {max_hold}")
        self.low, self.high = env.action_low, env.action_high
        self.rng = rng
        self.max_hold = max_hold
        self.action = None
        self.steps_left = 0

    def __call__(self, state) -> np.ndarray:
        if self.steps_left == 0:
            self.action = self.rng.uniform(self.low, self.high)
            self.steps_left = int(self.rng.integers(1, self.max_hold + 1))
        self.steps_left -= 1
        return self.action.copy()


class RandomWalk:
    """The release's Wall data: a heading that turns by von Mises noise each step and a step length.

    Heading ``theta_0 ~ U[0, 2 pi)``, ``theta_{t+1} = theta_t + VonMises(0, TURN_CONCENTRATION)``;
    length ``~ N(1, 0.4)`` truncated to [0.2, 1.8]; action ``length * (cos theta, sin theta)``.
    """

    TURN_CONCENTRATION = 1 / 0.2
    LENGTH_MEAN, LENGTH_STD, LENGTH_LOW, LENGTH_HIGH = 1.0, 0.4, 0.2, 1.8

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.heading = rng.uniform(0.0, 2 * np.pi)

    def _length(self) -> float:
        while True:
            length = self.rng.normal(self.LENGTH_MEAN, self.LENGTH_STD)
            if self.LENGTH_LOW <= length <= self.LENGTH_HIGH:
                return length

    def __call__(self, state) -> np.ndarray:
        action = self._length() * np.array([np.cos(self.heading), np.sin(self.heading)])
        self.heading += self.rng.vonmises(0.0, self.TURN_CONCENTRATION)
        return action


POLICIES = ("random", "walk", "expert")


def make_policy(kind: str, env: Env, rng: np.random.Generator):
    """A fresh policy (one per episode): ``random`` for every env, ``walk`` for Wall, ``expert`` for
    PushT and Pusher."""
    if kind == "random":
        return RandomPolicy(env, rng, MAX_HOLD.get(env.name, 1))
    if kind == "walk":
        if env.name != "Wall":
            raise ValueError(f"policy 'walk' exists for Wall only, not {env.name}; use 'random'")
        return RandomWalk(rng)
    if kind == "expert":
        if env.name == "PushT":
            from .envs.pusht_expert import PushTExpert

            return PushTExpert(rng, noise=env.expert_noise)
        if env.name == "Pusher":
            from .envs.pusher_expert import PusherExpert

            return PusherExpert(env, rng, noise=env.expert_noise)
        raise ValueError(f"policy 'expert' exists for PushT and Pusher only, not {env.name}; use 'random'")
    raise ValueError(f"unknown policy {kind!r}; known policies: {', '.join(POLICIES)}")
