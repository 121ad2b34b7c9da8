"""The interface every task implements.

States are float64 vectors of length ``state_dim``. One *env action* has
``action_dim`` values; one *planner action* is ``frameskip`` env actions
concatenated in time order, shape ``[frameskip * action_dim]``.
"""

from __future__ import annotations

import abc

import numpy as np


class Env(abc.ABC):
    """A task with an exactly settable state, a task sampler and a success test.

    Subclasses set ``name``, ``state_dim``, ``state_names`` (one per state
    dim), ``action_dim``, ``frameskip``, ``action_low`` and ``action_high``
    (each ``[action_dim]``) and implement the abstract methods. The next
    state is a function of the current state and the env action alone, so
    ``set_state`` followed by ``step`` replays a recorded trajectory exactly.
    """

    name: str
    state_dim: int
    state_names: tuple
    action_dim: int
    frameskip: int
    action_low: np.ndarray
    action_high: np.ndarray

    def __init__(self, seed: int | None = None):
        self.np_random = np.random.default_rng(seed)

    @property
    def planner_action_dim(self) -> int:
        """Length of one planner action: ``frameskip * action_dim``."""
        return self.frameskip * self.action_dim

    @abc.abstractmethod
    def get_state(self) -> np.ndarray:
        """The current state, a fresh float64 array ``[state_dim]``."""

    @abc.abstractmethod
    def _write_state(self, state: np.ndarray) -> None:
        """Put ``state`` (already checked) into the simulator."""

    @abc.abstractmethod
    def _apply(self, action: np.ndarray) -> None:
        """Advance the simulator by one env action ``[action_dim]`` (already clipped)."""

    @abc.abstractmethod
    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        """A random valid start state ``[state_dim]``."""

    @abc.abstractmethod
    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A ``(start_state, goal_state)`` pair, each ``[state_dim]``."""

    @abc.abstractmethod
    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        """Whether ``state`` solves the task of reaching ``goal``."""

    @abc.abstractmethod
    def render(self, goal: np.ndarray | None = None) -> np.ndarray:
        """An RGB image ``[H, W, 3]`` uint8 of the current state (and goal, if given)."""

    def check_state(self, state: np.ndarray) -> None:
        """Raise ``ValueError`` if ``state`` is not a valid state. Subclasses add bounds."""

    def set_state(self, state) -> None:
        """Set the simulator to ``state`` ``[state_dim]`` exactly."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_dim,):
            raise ValueError(
                f"state must have shape ({self.state_dim},) for {self.name}, got {state.shape}"
            )
        if not np.all(np.isfinite(state)):
            raise ValueError(f"state must be finite, got {state}")
        self.check_state(state)
        self._write_state(state)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Set a random valid start state (reseeding first if ``seed`` is given); return it."""
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.set_state(self.sample_start(self.np_random))
        return self.get_state()

    def clip_action(self, action) -> np.ndarray:
        """Check the shape of one env action ``[action_dim]`` and clip it to the bounds."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise ValueError(
                f"action must have shape ({self.action_dim},) for {self.name}, got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        return np.clip(action, self.action_low, self.action_high)

    def step_env(self, action) -> np.ndarray:
        """Apply one env action ``[action_dim]`` (clipped to bounds); return the new state."""
        self._apply(self.clip_action(action))
        return self.get_state()

    def step(self, planner_action) -> np.ndarray:
        """Apply one planner action ``[frameskip * action_dim]``; return the state after it."""
        planner_action = np.asarray(planner_action, dtype=np.float64)
        if planner_action.shape != (self.planner_action_dim,):
            raise ValueError(
                f"planner_action must have shape ({self.planner_action_dim},) "
                f"(frameskip {self.frameskip} x action_dim {self.action_dim}) "
                f"for {self.name}, got {planner_action.shape}"
            )
        for action in planner_action.reshape(self.frameskip, self.action_dim):
            self.step_env(action)
        return self.get_state()

    def rollout(self, start, actions) -> np.ndarray:
        """States ``[T+1, state_dim]`` from ``start`` under env actions ``[T, action_dim]``."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 2 or actions.shape[1] != self.action_dim:
            raise ValueError(
                f"actions must have shape (T, {self.action_dim}) for {self.name}, got {actions.shape}"
            )
        self.set_state(start)
        states = [self.get_state()]
        states += [self.step_env(a) for a in actions]
        return np.stack(states)

    def close(self) -> None:
        """Release rendering resources."""
