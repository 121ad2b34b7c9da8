"""Wall: a kinematic dot in a square room split by a wall with a door, as in the paper's release.

The release's Wall (DINO-WM's ``DotWall``) moves a dot by ``2 * action`` pixels per env action
and stops a move that hits a wall at the wall, backed off by half a pixel. Its room interior
spans 56 pixels between the border walls; here it spans [-1, 1]^2 m, so one pixel is 1/28 m.

State ``[2]`` = (x, y). Env action ``[2]`` in [-1.8, 1.8]^2 (the release's data steps have
length 0.2 to 1.8): the dot moves along the segment ``p -> p + STEP * a``; if the segment
crosses a wall face, the dot stops at the first crossing, ``BACKOFF`` back along that face's
normal. Faces: the room's border (x, y = +-1); the middle wall's sides (x = +-WALL_HALF_THICKNESS
outside the door, |y - DOOR_CENTER| > DOOR_HALF_WIDTH); the door's ends (y = DOOR_CENTER +-
DOOR_HALF_WIDTH inside the wall, |x| <= WALL_HALF_THICKNESS). One collision per env action,
no sliding along the face.

A task starts on one side of the wall and ends on the other (the side swapped with probability
1/2), both uniform at least ``CLEARANCE`` from every face, as the release samples them.
Success: xy error < ``SUCCESS_DISTANCE``.
"""

from __future__ import annotations

import numpy as np

from .base import Env
from .render import TopDownCanvas

PIXEL = 1 / 28  # metres per pixel of the release's room
ROOM_HALF = 1.0
WALL_HALF_THICKNESS = 3 * PIXEL  # the release's wall is 6 px wide
DOOR_CENTER = 0.0
DOOR_HALF_WIDTH = 4 * PIXEL  # the release's door_space
DOOR_LOW, DOOR_HIGH = DOOR_CENTER - DOOR_HALF_WIDTH, DOOR_CENTER + DOOR_HALF_WIDTH
SUCCESS_DISTANCE = 4.5 * PIXEL  # the release's success threshold
CLEARANCE = 3.4 * PIXEL  # the release's task padding, 2 * dot_std, from every face
STEP = 2 * PIXEL  # metres moved per unit of action (the release moves 2 px)
BACKOFF = 0.5 * PIXEL  # a blocked move stops this far short of the face
MAX_ACTION = 1.8  # the longest step of the release's data
DOT_RADIUS = 1.7 * PIXEL  # drawn only (the release's dot_std)
CORNER_OVERLAP = 1e-9  # the faces meeting at a door corner overlap by this (m), so rounding cannot pass between them


def wall_faces() -> list[tuple[int, float, float, float, int]]:
    """Every wall face as ``(axis, coordinate, low, high, free_side)``: the line
    ``p[axis] = coordinate`` for ``low <= p[1 - axis] <= high``, open to the dot on the side
    ``sign(p[axis] - coordinate) = free_side``. The wall's sides and the door's ends extend
    ``CORNER_OVERLAP`` past the corners where they meet."""
    h, t, e = ROOM_HALF, WALL_HALF_THICKNESS, CORNER_OVERLAP
    faces = [(axis, side * h, -h, h, -side) for axis in (0, 1) for side in (-1, 1)]
    faces += [(0, side * t, low, high, side)
              for side in (-1, 1) for low, high in ((-h, DOOR_LOW + e), (DOOR_HIGH - e, h))]
    faces += [(1, DOOR_LOW, -t - e, t + e, 1), (1, DOOR_HIGH, -t - e, t + e, -1)]
    return faces


FACES = wall_faces()


def move(position: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """The dot's position after moving ``displacement`` ``[2]`` from ``position`` ``[2]``.

    A face blocks the segment ``position -> position + displacement`` where it leaves the
    face's open side; the first such crossing (smallest fraction ``t`` in [0, 1]) stops the dot
    at ``position + t * displacement``, moved ``BACKOFF`` off the face to its open side.
    """
    first_t, stop = np.inf, None
    for axis, coordinate, low, high, free_side in FACES:
        start_gap = free_side * (position[axis] - coordinate)
        end_gap = start_gap + free_side * displacement[axis]
        if start_gap < 0.0 or end_gap >= 0.0:
            continue
        t = start_gap / (start_gap - end_gap)
        along = position[1 - axis] + t * displacement[1 - axis]
        if low <= along <= high and t < first_t:
            first_t = t
            stop = np.empty(2)
            stop[axis] = coordinate + free_side * BACKOFF
            stop[1 - axis] = along
    return position + displacement if stop is None else stop


class Wall(Env):
    """The two-room kinematic dot; see the module docstring for the task."""

    name = "Wall"
    state_dim = 2
    state_names = ("x", "y")
    action_dim = 2
    image_size = 224

    def __init__(self, frameskip: int = 5, seed: int | None = None):
        super().__init__(seed)
        self.frameskip = frameskip
        self.action_low = -np.full(2, MAX_ACTION)
        self.action_high = np.full(2, MAX_ACTION)
        self._position = np.zeros(2)

    def get_state(self) -> np.ndarray:
        return self._position.copy()

    def _write_state(self, state: np.ndarray) -> None:
        self._position = state.copy()

    def check_state(self, state: np.ndarray) -> None:
        x, y = state
        if max(abs(x), abs(y)) > ROOM_HALF:
            raise ValueError(f"state is out of bounds: xy ({x:.3g}, {y:.3g}) is outside the room [-1, 1]^2")
        if abs(x) < WALL_HALF_THICKNESS and not DOOR_LOW <= y <= DOOR_HIGH:
            raise ValueError(f"state is out of bounds: xy ({x:.3g}, {y:.3g}) is inside the wall")

    def _apply(self, action: np.ndarray) -> None:
        self._position = move(self._position, STEP * action)

    def _sample_side(self, rng: np.random.Generator, side: int) -> np.ndarray:
        x = side * rng.uniform(WALL_HALF_THICKNESS + CLEARANCE, ROOM_HALF - CLEARANCE)
        y = rng.uniform(-ROOM_HALF + CLEARANCE, ROOM_HALF - CLEARANCE)
        return np.array([x, y])

    def sample_start(self, rng: np.random.Generator) -> np.ndarray:
        return self._sample_side(rng, 1 if rng.random() < 0.5 else -1)

    def sample_task(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        side = 1 if rng.random() < 0.5 else -1
        return self._sample_side(rng, side), self._sample_side(rng, -side)

    def is_success(self, state, goal) -> bool:
        return bool(np.linalg.norm(np.asarray(state)[:2] - np.asarray(goal)[:2]) < SUCCESS_DISTANCE)

    def render(self, goal: np.ndarray | None = None) -> np.ndarray:
        """Top-down RGB ``[224, 224, 3]`` uint8: the room, the wall, the goal disc and the dot."""
        h, t = ROOM_HALF, WALL_HALF_THICKNESS
        border = 4 * PIXEL
        canvas = TopDownCanvas((-h - border, h + border, -h - border, h + border), self.image_size, (90, 90, 90))
        canvas.box((0, 0), (h, h), (235, 235, 235))
        canvas.box((0, (-h + DOOR_LOW) / 2), (t, (DOOR_LOW + h) / 2), (90, 90, 90))
        canvas.box((0, (DOOR_HIGH + h) / 2), (t, (h - DOOR_HIGH) / 2), (90, 90, 90))
        if goal is not None:
            canvas.disc(np.asarray(goal)[:2], SUCCESS_DISTANCE, (230, 150, 150))
        canvas.disc(self._position, DOT_RADIUS, (30, 60, 220))
        return canvas.to_array()
