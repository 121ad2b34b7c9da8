"""Images of episodes: a top-down drawing fallback, GIF and PNG-strip writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


class TopDownCanvas:
    """Draw axis-aligned boxes and discs given in world coordinates.

    ``extent`` is ``(xmin, xmax, ymin, ymax)`` in world units; the image is
    ``size x size`` pixels with +y pointing up.
    """

    def __init__(self, extent, size: int = 224, background=(235, 235, 235)):
        self.xmin, self.xmax, self.ymin, self.ymax = map(float, extent)
        self.size = size
        self.image = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.image)

    def _px(self, x: float, y: float) -> tuple[float, float]:
        u = (x - self.xmin) / (self.xmax - self.xmin) * (self.size - 1)
        v = (self.ymax - y) / (self.ymax - self.ymin) * (self.size - 1)
        return u, v

    def _scale(self, length: float) -> float:
        return length / (self.xmax - self.xmin) * (self.size - 1)

    def box(self, center, half_size, color) -> None:
        """A filled box with ``center (x, y)`` and ``half_size (hx, hy)``."""
        (cx, cy), (hx, hy) = center, half_size
        u0, v0 = self._px(cx - hx, cy + hy)
        u1, v1 = self._px(cx + hx, cy - hy)
        self.draw.rectangle([u0, v0, u1, v1], fill=color)

    def disc(self, center, radius: float, color) -> None:
        """A filled disc; ``radius`` in world units (at least 2 pixels)."""
        u, v = self._px(*center)
        r = max(self._scale(radius), 2.0)
        self.draw.ellipse([u - r, v - r, u + r, v + r], fill=color)

    def polygon(self, points, color) -> None:
        """A filled polygon through world points ``[(x, y), ...]``."""
        self.draw.polygon([self._px(x, y) for x, y in points], fill=color)

    def to_array(self) -> np.ndarray:
        """The drawing as ``[size, size, 3]`` uint8."""
        return np.asarray(self.image, dtype=np.uint8).copy()


def render_states(env, states, goal=None) -> list[np.ndarray]:
    """Frames ``[H, W, 3]`` uint8, one per state in ``states [T, state_dim]``."""
    frames = []
    for state in states:
        env.set_state(state)
        frames.append(env.render(goal=goal))
    return frames


def save_gif(frames, path, fps: int = 10) -> Path:
    """Write frames ``[H, W, 3]`` uint8 as a looping GIF at ``fps``."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
    return path


def save_strip(frames, path, max_frames: int = 10) -> Path:
    """Write up to ``max_frames`` evenly spaced frames side by side as one PNG."""
    frames = list(frames)
    if not frames:
        raise ValueError("frames must not be empty")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
    strip = np.concatenate([frames[i] for i in picks], axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path)
    return path
