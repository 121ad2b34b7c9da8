"""PushT: gym-pusht's pymunk simulation (agent disc pushes a T block), state observations.

State ``[10]`` = (agent x, agent y, block x, block y, block angle in [0, 2 pi),
agent vx, agent vy, block vx, block vy, block angular velocity). The first
five are gym-pusht's ``obs_type="state"`` observation; the velocities are
what an exact reset needs (pymunk moves bodies with the previous step's
velocity before solving contacts). Units: pixels of the 512 x 512 arena.

Env action ``[2]`` in [-1, 1]^2: the PD target of the agent is
``agent_xy + ACTION_SCALE * action``, clipped to the arena [0, 512]^2 (the
range of gym-pusht's absolute targets); one env action is gym-pusht's
control step (PD gains 100/20, 10 physics steps of 0.01 s). The physics
space is rebuilt from the state vector at each env action, so the contact
solver starts cold and the next state depends on (state, action) alone.

A task: the start and goal are ``TASK_GAP`` = 25 env steps apart along a
trajectory of the noisy scripted expert (``PushTExpert``). Success:
||(agent, block) xy error|| < 20 and block angle error < pi / 9.
"""

from __future__ import annotations

import numpy as np

from .base import Env
from .render import TopDownCanvas

ARENA = 512.0
ACTION_SCALE = 100.0
AGENT_RADIUS = 15.0
POSITION_TOLERANCE = 20.0
ANGLE_TOLERANCE = np.pi / 9
TASK_GAP = 25
MAX_TASK_WARMUP = 50


def angle_difference(a, b) -> float:
    """Absolute difference of two angles, wrapped to [0, pi]."""
    diff = abs(float(a) - float(b)) % (2 * np.pi)
    return min(diff, 2 * np.pi - diff)


class PushT(Env):
    """The T-pushing task; see the module docstring."""

    name = "PushT"
    state_dim = 10
    state_names = ("agent_x", "agent_y", "block_x", "block_y", "block_angle",
                   "agent_vx", "agent_vy", "block_vx", "block_vy", "block_angular_velocity")
    unwrap_dims = (4,)
    action_dim = 2

    def __init__(self, frameskip: int = 5, seed: int | None = None, expert_noise: float = 0.1):
        from gym_pusht.envs.pusht import PushTEnv

        super().__init__(seed)
        self.sim = PushTEnv(obs_type="state")
        self.frameskip = frameskip
        self.expert_noise = expert_noise
        self.action_low = -np.ones(2)
        self.action_high = np.ones(2)
        self.image_size = 224
        self._state = np.zeros(self.state_dim)
        self._build(np.array([256.0, 400.0, 256.0, 300.0, 0.0, 0, 0, 0, 0, 0]))
        self._state = self._read()

    def _build(self, state: np.ndarray) -> None:
        """A fresh physics space holding ``state``.

        The angle is set before the position: pymunk rotates a body about its
        centre of gravity, which would move an origin set first.
        """
        self.sim._setup()
        agent, block = self.sim.agent, self.sim.block
        agent.position = (float(state[0]), float(state[1]))
        agent.velocity = (float(state[5]), float(state[6]))
        block.angle = float(state[4])
        block.position = (float(state[2]), float(state[3]))
        block.velocity = (float(state[7]), float(state[8]))
        block.angular_velocity = float(state[9])

    def _read(self) -> np.ndarray:
        agent, block = self.sim.agent, self.sim.block
        return np.array(
            [
                *agent.position,
                *block.position,
                block.angle % (2 * np.pi),
                *agent.velocity,
                *block.velocity,
                block.angular_velocity,
            ],
            dtype=np.float64,
        )

    def block_polygons(self, state) -> list[np.ndarray]:
        """The T's two rectangles at ``state``, each ``[4, 2]`` world vertices."""
        saved = self._state
        self._build(np.asarray(state, dtype=np.float64))
        block = self.sim.block
        polygons = [np.array([tuple(block.local_to_world(v)) for v in s.get_vertices()]) for s in block.shapes]
        self._build(saved)
        return polygons

    def agent_inside_block(self, state) -> bool:
        """Whether the agent's centre lies inside the T."""
        import shapely.geometry as sg

        point = sg.Point(state[0], state[1])
        return any(sg.Polygon(p).contains(point) for p in self.block_polygons(state))

    def check_state(self, state: np.ndarray) -> None:
        for label, xy in (("agent", state[0:2]), ("block", state[2:4])):
            if np.any(xy < 0) or np.any(xy > ARENA):
                raise ValueError(f"state is out of bounds: {label} xy {xy} outside the arena [0, {ARENA:g}]^2")
        if self.agent_inside_block(state):
            raise ValueError(f"state is out of bounds: agent xy {state[:2]} is inside the block")

    def get_state(self) -> np.ndarray:
        return self._state.copy()

    def _write_state(self, state: np.ndarray) -> None:
        self._state = state.copy()
        self._build(self._state)

    def _apply(self, action: np.ndarray) -> None:
        from pymunk.vec2d import Vec2d

        self._build(self._state)
        sim = self.sim
        target = np.clip(self._state[:2] + ACTION_SCALE * action, 0.0, ARENA)
        target = Vec2d(float(target[0]), float(target[1]))
        for _ in range(int(1 / (sim.dt * sim.control_hz))):
            acceleration = sim.k_p * (target - sim.agent.position) + sim.k_v * (Vec2d(0, 0) - sim.agent.velocity)
            sim.agent.velocity += acceleration * sim.dt
            sim.space.step(sim.dt)
        self._state = self._read()

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        """gym-pusht's reset distribution, without the agent overlapping the block."""
        while True:
            state = np.zeros(self.state_dim)
            state[0:2] = rng.integers(50, 450, 2)
            state[2:4] = rng.integers(100, 400, 2)
            state[4] = rng.uniform(-np.pi, np.pi) % (2 * np.pi)
            if not self._near_block(state):
                return state

    def _near_block(self, state) -> bool:
        import shapely.geometry as sg

        point = sg.Point(state[0], state[1])
        return any(sg.Polygon(p).distance(point) < AGENT_RADIUS + 2 for p in self.block_polygons(state))

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from .pusht_expert import PushTExpert

        expert = PushTExpert(rng, noise=self.expert_noise)
        self.set_state(self.sample_start(rng))
        for _ in range(int(rng.integers(0, MAX_TASK_WARMUP + 1))):
            self.step_env(expert(self.get_state()))
        start = self.get_state()
        for _ in range(TASK_GAP):
            self.step_env(expert(self.get_state()))
        return start, self.get_state()

    def is_success(self, state, goal) -> bool:
        state, goal = np.asarray(state), np.asarray(goal)
        position_error = np.linalg.norm(state[:4] - goal[:4])
        return bool(position_error < POSITION_TOLERANCE and angle_difference(state[4], goal[4]) < ANGLE_TOLERANCE)

    def render(self, goal: np.ndarray | None = None) -> np.ndarray:
        """Top-down RGB ``[224, 224, 3]`` uint8 in gym-pusht's colours (y pointing down)."""
        canvas = TopDownCanvas((0, ARENA, ARENA, 0), self.image_size, (255, 255, 255))
        if goal is not None:
            for polygon in self.block_polygons(goal):
                canvas.polygon(polygon, (144, 238, 144))
        for polygon in self.block_polygons(self._state):
            canvas.polygon(polygon, (119, 136, 153))
        canvas.disc(self._state[:2], AGENT_RADIUS, (65, 105, 225))
        return canvas.to_array()
