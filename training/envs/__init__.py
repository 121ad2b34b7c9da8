"""Environments for training and evaluating world models, behind one interface (``Env``).

``make(name, **kw)`` builds one: ``PointMaze``, ``PushT``, ``Wall``, ``Pusher``,
or ``gym:<id>`` for any gymnasium MuJoCo env (e.g. ``gym:Hopper-v5``; its tasks and
success test: ``mujoco_env.GymMujocoEnv``, ``success``). MuJoCo renders
through EGL unless ``MUJOCO_GL`` is set; without a working OpenGL, ``render``
draws a top-down picture from the state instead.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless MuJoCo rendering; must precede importing mujoco

try:
    # Triton's LLVM crashes when it is first loaded after an EGL context has loaded Mesa's LLVM
    # (torch.optim loads triton through torch._dynamo), so load it before any rendering.
    import triton  # noqa: F401
except ImportError:
    pass

from .base import Env  # noqa: E402

ENV_NAMES = ("PointMaze", "PushT", "Wall", "Pusher")
GYM_PREFIX = "gym:"


def make(name: str, **kwargs) -> Env:
    """Build the environment called ``name`` (case-insensitive); ``kwargs`` go to its constructor."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {type(name).__name__}")
    if name.startswith(GYM_PREFIX) and len(name) > len(GYM_PREFIX):
        from .mujoco_env import GymMujocoEnv

        return GymMujocoEnv(name[len(GYM_PREFIX) :], **kwargs)
    key = name.lower()
    if key == "pointmaze":
        from .point_maze import PointMaze

        return PointMaze(**kwargs)
    if key == "pusht":
        from .pusht import PushT

        return PushT(**kwargs)
    if key == "wall":
        from .wall import Wall

        return Wall(**kwargs)
    if key == "pusher":
        from .pusher import Pusher

        return Pusher(**kwargs)
    raise ValueError(
        f"unknown env name {name!r}; known names: {', '.join(ENV_NAMES)}, "
        f"or '{GYM_PREFIX}<id>' for a gymnasium MuJoCo env"
    )


__all__ = ["ENV_NAMES", "Env", "make"]
