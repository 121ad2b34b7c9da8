"""PointMaze: the gymnasium-robotics U-maze (``PointMaze_UMaze-v3``), a force-driven ball.

State ``[4]`` = (x, y, vx, vy); env action ``[2]`` = force in [-1, 1]^2 held
for ``SUBSTEPS`` MuJoCo steps of 0.01 s, the velocity clipped to [-5, 5] first
(as D4RL's ``maze2d-umaze``, which the paper's release uses: 0.05 s per env
action, 0.25 s per planner action of 5). Start and goal are drawn alike, as
the release draws them: a position uniform over the points at least
``WALL_CLEARANCE`` from every wall along each axis, and a velocity uniform in
[-``START_SPEED``, ``START_SPEED``]^2. Success: xy error < 0.5.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .mujoco_env import MujocoStateEnv
from .render import TopDownCanvas

SUCCESS_DISTANCE = 0.5
BALL_RADIUS = 0.1
WALL_CLEARANCE = 0.2  # the release's valid region: 0.1 m between the ball and any wall
START_SPEED = 5.2262554  # the release's bound on each start velocity component (m/s)
SUBSTEPS = 5  # MuJoCo steps per env action (D4RL's frame_skip)


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
        self.sim.frame_skip = SUBSTEPS
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
        """Distance along the axes (L-infinity) from ``xy`` to the nearest wall cell (0 inside a wall):
        the half side of the largest axis-aligned square around ``xy`` that no wall enters."""
        nearest = np.inf
        for row, col in np.argwhere(self.walls):
            low = self.cell_center((row, col)) - self.scale / 2
            gap = np.maximum(np.maximum(low - xy, xy - (low + self.scale)), 0.0)
            nearest = min(nearest, float(gap.max()))
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
        return np.concatenate([self._sample_xy(rng), rng.uniform(-START_SPEED, START_SPEED, 2)])

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Two independent ``sample_start`` draws, as released: no minimum distance, so a task
        may start within the success distance (the velocity may carry the ball away)."""
        return self.sample_start(rng), self.sample_start(rng)

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
