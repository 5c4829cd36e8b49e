"""Rigid poses as 4x4 homogeneous matrices and twists as [v, w] 6-vectors.

A pose ``world_T_camera`` maps camera coordinates to world coordinates. A twist is a camera
velocity expressed in the camera frame, so integrating it right-multiplies the pose.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import ConfigurationError

_SMALL_ANGLE = 1e-8
#: a pose's quaternion may be off unit length by this much (rounding in a file or a message);
#: farther off it is a mistake, refused rather than silently normalised
QUATERNION_TOLERANCE = 1e-3


def _skew(w: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def _left_jacobian(w: np.ndarray) -> np.ndarray:
    """V such that the translation of exp([v, w]) is V @ v."""
    theta = np.linalg.norm(w)
    skew = _skew(w)
    if theta < _SMALL_ANGLE:
        return np.eye(3) + 0.5 * skew
    return (np.eye(3) + (1 - np.cos(theta)) / theta**2 * skew
            + (theta - np.sin(theta)) / theta**3 * skew @ skew)


def make_pose(rotation: np.ndarray, translation) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def exp(twist) -> np.ndarray:
    """The pose reached by moving at the constant twist [v, w] for one unit of time."""
    twist = np.asarray(twist, dtype=float)
    v, w = twist[:3], twist[3:]
    return make_pose(Rotation.from_rotvec(w).as_matrix(), _left_jacobian(w) @ v)


def log(pose: np.ndarray) -> np.ndarray:
    """The twist [v, w] whose exponential is ``pose`` (inverse of :func:`exp`)."""
    w = Rotation.from_matrix(pose[:3, :3]).as_rotvec()
    v = np.linalg.solve(_left_jacobian(w), pose[:3, 3])
    return np.concatenate([v, w])


def pose_vector(pose: np.ndarray) -> np.ndarray:
    """(t, θu) of a pose: its translation and the rotation vector of its rotation (θ <= π)."""
    return np.concatenate([pose[:3, 3], Rotation.from_matrix(pose[:3, :3]).as_rotvec()])


def pose_from_vector(vector) -> np.ndarray:
    """The pose whose (t, θu) is ``vector`` (inverse of :func:`pose_vector`)."""
    vector = np.asarray(vector, dtype=float)
    return make_pose(Rotation.from_rotvec(vector[3:]).as_matrix(), vector[:3])


def rotation_vector_rate(theta_u) -> np.ndarray:
    """J (3, 3) with d(θu)/dt = J w for a rotation R = exp([θu]) turning at w in its own
    frame (R' = R exp([w] dt), as a camera does at the angular part of its twist): the
    inverse right Jacobian of SO(3), I + [θu]/2 + (1 - (θ/2) cot(θ/2)) / θ² [θu]².

    The cotangent form stays finite up to θ = π and beyond (the rotation vector of a
    regression is not confined to θ <= π); it is singular only at θ = 2π.
    """
    theta_u = np.asarray(theta_u, dtype=float)
    theta = np.linalg.norm(theta_u)
    skew = _skew(theta_u)
    if theta < 1e-4:  # series of (1 - x cot x) / (4 x²), x = θ/2: 1/12 + θ²/720
        coefficient = 1 / 12 + theta**2 / 720
    else:
        half = theta / 2
        coefficient = (1 - half * np.cos(half) / np.sin(half)) / theta**2
    return np.eye(3) + 0.5 * skew + coefficient * skew @ skew


def inverse(pose: np.ndarray) -> np.ndarray:
    rotation_t = pose[:3, :3].T
    return make_pose(rotation_t, -rotation_t @ pose[:3, 3])


def integrate(world_T_camera: np.ndarray, velocity, dt: float) -> np.ndarray:
    """Move a camera at the camera-frame twist ``velocity`` for ``dt`` seconds."""
    return world_T_camera @ exp(np.asarray(velocity, dtype=float) * dt)


def pose_error(pose_a: np.ndarray, pose_b: np.ndarray) -> tuple[float, float]:
    """Distance between two poses: (translation in metres, rotation angle in degrees)."""
    relative = inverse(pose_a) @ pose_b
    translation = float(np.linalg.norm(pose_a[:3, 3] - pose_b[:3, 3]))
    angle = float(np.degrees(Rotation.from_matrix(relative[:3, :3]).magnitude()))
    return translation, angle


def look_at(eye, target, roll: float = 0.0) -> np.ndarray:
    """Camera at ``eye`` whose optical axis (z) points at ``target``, rolled by ``roll`` rad.

    With zero roll the camera's x axis is horizontal and points along world +X when the camera
    looks straight down, so a camera above the scene sees the scene image upright.
    """
    eye, target = np.asarray(eye, dtype=float), np.asarray(target, dtype=float)
    z = target - eye
    norm = np.linalg.norm(z)
    if norm < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    z /= norm
    reference = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, -1.0, 0.0])
    y = np.cross(z, reference)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    rotation = np.column_stack([x, y, z]) @ Rotation.from_rotvec([0.0, 0.0, roll]).as_matrix()
    return make_pose(rotation, eye)


def displaced(pose: np.ndarray, offset) -> np.ndarray:
    """``pose`` moved by ``offset`` = (dx, dy, dz [m], rx, ry, rz [deg]) in its own frame.

    The rotation part is a rotation vector in degrees, applied about the camera centre.
    """
    offset = np.asarray(offset, dtype=float)
    motion = make_pose(Rotation.from_rotvec(np.radians(offset[3:])).as_matrix(), offset[:3])
    return pose @ motion


# -- poses as lists: [x, y, z, qx, qy, qz, qw] (geometry_msgs/Pose order) ----------------------

def pose_from_list(values, name: str = "pose") -> np.ndarray:
    """A 4x4 pose from ``[x, y, z, qx, qy, qz, qw]``: the one reading of poses in parameter
    files, launch options and messages. The quaternion must be a unit one within
    QUATERNION_TOLERANCE (it is then normalised); ConfigurationError naming ``name`` if not."""
    numbers = finite_numbers(values, 7)
    if numbers is None:
        raise ConfigurationError(f"{name} must be 7 finite numbers [x, y, z, qx, qy, qz, qw], got {values!r}")
    norm = np.linalg.norm(numbers[3:])
    if abs(norm - 1.0) > QUATERNION_TOLERANCE:
        raise ConfigurationError(f"{name}: the quaternion {numbers[3:].tolist()} is not a unit "
                                 f"quaternion (norm {norm:.4g})")
    return make_pose(Rotation.from_quat(numbers[3:] / norm).as_matrix(), numbers[:3])


def pose_to_list(pose: np.ndarray) -> list[float]:
    """``[x, y, z, qx, qy, qz, qw]`` of a 4x4 pose."""
    return [*map(float, pose[:3, 3]), *map(float, Rotation.from_matrix(pose[:3, :3]).as_quat())]


def finite_numbers(values, count: int) -> np.ndarray | None:
    """``values`` as ``count`` finite floats, or None (wrong count, not numbers, NaN or inf)."""
    if isinstance(values, (str, bytes, dict)):
        return None
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    return numbers if numbers.shape == (count,) and np.isfinite(numbers).all() else None
