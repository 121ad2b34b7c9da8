"""PointMaze: the gymnasium-robotics U-maze (``PointMaze_UMaze-v3``), a force-driven ball.

State ``[4]`` = (x, y, vx, vy); env action ``[2]`` = force in [-1, 1]^2 (one
MuJoCo step of 0.01 s, velocity clipped to [-5, 5] first, as the gymnasium
env does). Start and goal are uniform over the free cells, at least
``WALL_CLEARANCE`` from any wall, at rest, and at least ``MIN_TASK_DISTANCE``
apart. Success: xy error < 0.5.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .mujoco_env import MujocoStateEnv
from .render import TopDownCanvas

SUCCESS_DISTANCE = 0.5
BALL_RADIUS = 0.1
WALL_CLEARANCE = 0.15
MIN_TASK_DISTANCE = 1.0


class PointMaze(MujocoStateEnv):
    """The U-maze point mass; see the module docstring for the task."""

    name = "PointMaze"
    action_dim = 2

    def __init__(self, frameskip: int = 5, seed: int | None = None):
        import gymnasium as gym
        import gymnasium_robotics

        super().__init__(seed)
        gym.register_envs(gymnasium_robotics)
        self.maze_env = gym.make("PointMaze_UMaze-v3").unwrapped
        self.sim = self.maze_env.point_env
        self._init_mujoco(self.sim.model, self.sim.data)
        self.frameskip = frameskip
        self.action_low = -np.ones(2)
        self.action_high = np.ones(2)
        maze = self.maze_env.maze
        self.walls = np.asarray(maze.maze_map, dtype=bool)
        self.scale = float(maze.maze_size_scaling)
        self.x_center, self.y_center = float(maze.x_map_center), float(maze.y_map_center)
        self.free_cells = [tuple(rc) for rc in np.argwhere(~self.walls)]
        self._target_site = self.maze_env.target_site_id

    def cell_of(self, xy) -> tuple[int, int]:
        """The (row, col) maze cell containing point ``xy``."""
        row = int(np.floor((self.y_center - xy[1]) / self.scale))
        col = int(np.floor((xy[0] + self.x_center) / self.scale))
        return row, col

    def cell_center(self, cell) -> np.ndarray:
        """World xy ``[2]`` of a cell's centre."""
        row, col = cell
        return np.array([(col + 0.5) * self.scale - self.x_center, self.y_center - (row + 0.5) * self.scale])

    def is_free(self, xy) -> bool:
        """Whether ``xy`` lies inside the maze and in a free cell."""
        row, col = self.cell_of(xy)
        inside = 0 <= row < self.walls.shape[0] and 0 <= col < self.walls.shape[1]
        return inside and not self.walls[row, col]

    def clearance(self, xy) -> float:
        """Distance from ``xy`` to the nearest wall cell (0 inside a wall)."""
        nearest = np.inf
        for row, col in np.argwhere(self.walls):
            low = self.cell_center((row, col)) - self.scale / 2
            gap = np.maximum(np.maximum(low - xy, xy - (low + self.scale)), 0.0)
            nearest = min(nearest, float(np.linalg.norm(gap)))
        return nearest

    def connected(self, a, b) -> bool:
        """Whether free points ``a`` and ``b`` are joined through free cells (4-neighbour)."""
        start, goal = self.cell_of(a), self.cell_of(b)
        seen, queue = {start}, deque([start])
        while queue:
            row, col = queue.popleft()
            if (row, col) == goal:
                return True
            for nxt in ((row + 1, col), (row - 1, col), (row, col + 1), (row, col - 1)):
                if nxt in seen or not (0 <= nxt[0] < self.walls.shape[0] and 0 <= nxt[1] < self.walls.shape[1]):
                    continue
                if not self.walls[nxt]:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def check_state(self, state: np.ndarray) -> None:
        if not self.is_free(state[:2]):
            raise ValueError(f"state is out of bounds: xy {state[:2]} is inside a wall or outside the maze")

    def _apply(self, action: np.ndarray) -> None:
        self.sim.step(action)

    def _sample_xy(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            cell = self.free_cells[rng.integers(len(self.free_cells))]
            xy = self.cell_center(cell) + rng.uniform(-0.5, 0.5, 2) * self.scale
            if self.clearance(xy) >= WALL_CLEARANCE:
                return xy

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([self._sample_xy(rng), np.zeros(2)])

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        start = self.sample_start(rng)
        while True:
            goal = self.sample_start(rng)
            if np.linalg.norm(goal[:2] - start[:2]) >= MIN_TASK_DISTANCE:
                return start, goal

    def is_success(self, state, goal) -> bool:
        return bool(np.linalg.norm(np.asarray(state)[:2] - np.asarray(goal)[:2]) < SUCCESS_DISTANCE)

    def _camera(self):
        camera = super()._camera()
        camera.lookat[:] = (0.0, 0.0, 0.0)
        camera.distance = 1.3 * self.scale * max(self.walls.shape)
        camera.elevation = -90.0
        return camera

    def _show_goal(self, goal) -> None:
        self.model.site_rgba[self._target_site, 3] = 0.0 if goal is None else 1.0
        if goal is not None:
            self.model.site_pos[self._target_site][:2] = np.asarray(goal)[:2]

    def _draw_fallback(self, goal) -> np.ndarray:
        half_w = self.walls.shape[1] * self.scale / 2
        half_h = self.walls.shape[0] * self.scale / 2
        canvas = TopDownCanvas((-half_w, half_w, -half_h, half_h), self.image_size)
        for cell in np.argwhere(self.walls):
            canvas.box(self.cell_center(cell), (self.scale / 2, self.scale / 2), (90, 90, 90))
        if goal is not None:
            canvas.disc(np.asarray(goal)[:2], SUCCESS_DISTANCE, (230, 150, 150))
        canvas.disc(self.data.qpos[:2], BALL_RADIUS, (30, 60, 220))
        return canvas.to_array()
