"""What reaching a goal means in a MuJoCo env: which state dims, how close, which are angles.

``Success(dims, tol, angle_dims)``: a state reaches a goal when the Euclidean norm of its error
over ``dims`` is below ``tol``; the error of a dim in ``angle_dims`` is wrapped to [-pi, pi).

Defaults from the joint types (``default_success``), over the position part of the state (qpos;
velocities are never compared): a hinge's angle is compared modulo 2 pi, a slide by its value,
except the slides of a root body (a child of the world) without limits, which place a locomotion
body in the world; free and ball joints (a root's position and orientation quaternion) are left
out. An env whose joints are all left out has no default (``NoDefaultSuccess``).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

HINGE, SLIDE = int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)
FREE, BALL = int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_BALL)
QPOS_SIZE = {FREE: 7, BALL: 4, SLIDE: 1, HINGE: 1}
QVEL_SIZE = {FREE: 6, BALL: 3, SLIDE: 1, HINGE: 1}


class NoDefaultSuccess(ValueError):
    """An env whose joints give no default success dims; the message says why and what to pass."""


def wrap_angle(x):
    """x wrapped to [-pi, pi)."""
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class Success:
    """Success within ``tol`` (Euclidean) over state ``dims``; ``angle_dims`` (a subset) wrap."""

    dims: tuple
    tol: float
    angle_dims: tuple = ()

    def __post_init__(self):
        if not self.dims:
            raise ValueError("success dims must not be empty")
        if not self.tol > 0:
            raise ValueError(f"success tol must be > 0, got {self.tol}")
        if not set(self.angle_dims) <= set(self.dims):
            raise ValueError(f"angle_dims {list(self.angle_dims)} must be among dims {list(self.dims)}")

    def errors(self, states, goals) -> np.ndarray:
        """The error over ``dims``, angles wrapped: [..., len(dims)] for states, goals [..., S]."""
        states, goals = np.asarray(states, dtype=np.float64), np.asarray(goals, dtype=np.float64)
        error = states[..., list(self.dims)] - goals[..., list(self.dims)]
        wrapped = [i for i, d in enumerate(self.dims) if d in self.angle_dims]
        error[..., wrapped] = wrap_angle(error[..., wrapped])
        return error

    def distance(self, states, goals):
        """The norm of ``errors``: [...]."""
        return np.linalg.norm(self.errors(states, goals), axis=-1)

    def reached(self, states, goals):
        """Whether ``distance < tol``: [...] bool."""
        return self.distance(states, goals) < self.tol

    def describe(self, names) -> str:
        """E.g. ``||(qpos:joint0°, qpos:joint1°)|| < 0.1`` (° marks a wrapped angle)."""
        parts = [f"{names[d]}{'°' if d in self.angle_dims else ''}" for d in self.dims]
        return f"||({', '.join(parts)})|| < {self.tol:g}"


@dataclass(frozen=True)
class Joint:
    """One MuJoCo joint as the state sees it."""

    name: str
    kind: int
    qpos: int        # first qpos index
    qvel: int        # first qvel index
    limited: bool
    root: bool       # its body is a child of the world


def joints(model) -> list[Joint]:
    """The model's joints in qpos order."""
    out = []
    for j in range(model.njnt):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}"
        out.append(Joint(name, int(model.jnt_type[j]), int(model.jnt_qposadr[j]), int(model.jnt_dofadr[j]),
                         bool(model.jnt_limited[j]), int(model.body_parentid[model.jnt_bodyid[j]]) == 0))
    return out


def state_names(model) -> list[str]:
    """Names of the (qpos, qvel) state: ``qpos:<joint>`` / ``qvel:<joint>``, with a suffix for the
    entries of free and ball joints (``:x``, ``:qw``, ``:wx``, ...)."""
    parts = {FREE: (("x", "y", "z", "qw", "qx", "qy", "qz"), ("vx", "vy", "vz", "wx", "wy", "wz")),
             BALL: (("qw", "qx", "qy", "qz"), ("wx", "wy", "wz"))}
    qpos, qvel = [""] * model.nq, [""] * model.nv
    for joint in joints(model):
        pos, vel = parts.get(joint.kind, (("",), ("",)))
        for i, suffix in enumerate(pos):
            qpos[joint.qpos + i] = f"qpos:{joint.name}" + (f":{suffix}" if suffix else "")
        for i, suffix in enumerate(vel):
            qvel[joint.qvel + i] = f"qvel:{joint.name}" + (f":{suffix}" if suffix else "")
    return qpos + qvel


def hinge_dims(model, limited: bool | None = None) -> tuple:
    """qpos indices of the hinges (only the limited or unlimited ones if ``limited`` is given)."""
    return tuple(j.qpos for j in joints(model)
                 if j.kind == HINGE and (limited is None or j.limited == limited))


def default_success(model, env_name: str, tol: float) -> Success:
    """The default ``Success`` of a MuJoCo model (module docstring); raises ``NoDefaultSuccess``."""
    dims, left_out = [], []
    for joint in joints(model):
        if joint.kind in (FREE, BALL):
            left_out.append(f"{joint.name} ({'free' if joint.kind == FREE else 'ball'} joint)")
        elif joint.kind == SLIDE and joint.root and not joint.limited:
            left_out.append(f"{joint.name} (unlimited slide of a root body)")
        else:
            dims.append(joint.qpos)
    if not dims:
        raise NoDefaultSuccess(
            f"{env_name} has no default success dims: every joint is left out ({', '.join(left_out)}); "
            f"pass success_dims (state indices, see the env's state_names) to say what reaching a goal means")
    return Success(tuple(dims), tol, tuple(d for d in hinge_dims(model) if d in dims))
