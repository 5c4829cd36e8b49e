"""Kinematics of a 6-axis Cartesian gantry with a spherical 3-axis wrist (Afma6-like).

Joints q1..q3 are prismatic along the base X, Y, Z axes and move a carriage; q4..q6 are
revolute wrist joints about the axes named by ``wrist_axes`` (e.g. ``"zyx"``: q4 about z,
q5 about the once-rotated y, q6 about the twice-rotated x), all three through one point,
the wrist centre::

    base_T_tool(q)   = Trans(q1, q2, q3) @ wrist_mount @ R_a4(q4) R_a5(q5) R_a6(q6) @ flange
    world_T_camera   = world_T_base @ base_T_tool(q) @ tool_T_camera   (hand-eye)

Twists follow the core's convention: ``[v, w]``; a *camera twist* is expressed in the camera
frame. Jacobians here map joint velocities to the velocity of a point rigidly attached to
the tool (its linear velocity) and the tool's angular velocity, both in base coordinates.
Pure NumPy: no ROS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.se3 import pose_from_list

N_JOINTS = 6
_UNIT = {'x': np.array([1.0, 0.0, 0.0]), 'y': np.array([0.0, 1.0, 0.0]),
         'z': np.array([0.0, 0.0, 1.0])}
DEFAULT_JOINT_NAMES = ('gantry_x_joint', 'gantry_y_joint', 'gantry_z_joint',
                       'wrist_1_joint', 'wrist_2_joint', 'wrist_3_joint')


def _axis_rotation(axis: str, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    if axis == 'x':
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == 'y':
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _wrap(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class WristConditioning:
    """How well the wrist can produce the asked-for rotation (see :func:`damped_solve`)."""

    sigma_min: float  #: smallest singular value of the wrist's angular Jacobian
    damping: float  #: the lambda used by damped least squares (0 far from singularities)


def damped_solve(matrix: np.ndarray, target: np.ndarray, sigma_threshold: float,
                 max_damping: float) -> tuple[np.ndarray, WristConditioning]:
    """x minimising |matrix x - target|^2 + lambda^2 |x|^2 (damped least squares).

    lambda is 0 while the smallest singular value is above ``sigma_threshold`` and grows to
    ``max_damping`` as it falls to 0 (lambda^2 = max^2 (1 - (sigma/threshold)^2)), so |x|
    stays bounded through a singularity instead of blowing up.
    """
    u, s, vt = np.linalg.svd(matrix)
    sigma_min = float(s[-1])
    if sigma_min >= sigma_threshold or sigma_threshold <= 0:
        damping_sq = 0.0
    else:
        damping_sq = max_damping**2 * (1.0 - (sigma_min / sigma_threshold) ** 2)
    with np.errstate(divide='ignore', invalid='ignore'):
        gains = np.where(s**2 + damping_sq > 0, s / (s**2 + damping_sq), 0.0)
    x = vt.T @ (gains * (u.T @ target))
    return x, WristConditioning(sigma_min, float(np.sqrt(damping_sq)))


@dataclass(frozen=True)
class GantryModel:
    """Geometry of the gantry; all poses are 4x4 homogeneous matrices."""

    wrist_axes: str = 'zyx'
    #: carriage -> first wrist frame at q = 0 (default: tool z pointing down, x along +X)
    wrist_mount: np.ndarray = field(default_factory=lambda: pose_from_list([0, 0, 0, 1, 0, 0, 0]))
    #: last wrist frame -> tool (flange) frame
    flange: np.ndarray = field(default_factory=lambda: np.eye(4))
    #: camera optical frame -> tool frame (hand-eye calibration)
    tool_T_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    #: gantry base frame in the world (scene) frame
    world_T_base: np.ndarray = field(default_factory=lambda: np.eye(4))
    joint_names: tuple = DEFAULT_JOINT_NAMES

    def __post_init__(self):
        axes = str(self.wrist_axes).lower()
        if len(axes) != 3 or any(a not in _UNIT for a in axes):
            raise ConfigurationError(f"wrist_axes must be three letters of x, y, z (e.g. 'zyx'), "
                                     f'got {self.wrist_axes!r}')
        if axes[0] == axes[1] or axes[1] == axes[2]:
            raise ConfigurationError(f'wrist_axes {axes!r}: consecutive wrist axes must differ '
                                     '(the wrist would have only two degrees of freedom)')
        object.__setattr__(self, 'wrist_axes', axes)
        for name in ('wrist_mount', 'flange', 'tool_T_camera', 'world_T_base'):
            pose = np.array(getattr(self, name), dtype=float)
            rotation = pose[:3, :3] if pose.shape == (4, 4) else None
            if (rotation is None or not np.all(np.isfinite(pose))
                    or not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
                    or not np.allclose(pose[3], [0, 0, 0, 1])):
                raise ConfigurationError(f'{name} must be a rigid 4x4 transform')
            pose.flags.writeable = False
            object.__setattr__(self, name, pose)
        names = tuple(str(n) for n in self.joint_names)
        if len(names) != N_JOINTS or len(set(names)) != N_JOINTS or not all(names):
            raise ConfigurationError(f'joint_names must be {N_JOINTS} distinct non-empty names, '
                                     f'got {list(names)}')
        object.__setattr__(self, 'joint_names', names)

    # --- forward kinematics -------------------------------------------------------------
    def wrist_rotation(self, q) -> np.ndarray:
        """R_a4(q4) R_a5(q5) R_a6(q6)."""
        rotation = np.eye(3)
        for axis, angle in zip(self.wrist_axes, np.asarray(q, dtype=float)[3:6]):
            rotation = rotation @ _axis_rotation(axis, angle)
        return rotation

    def base_T_tool(self, q) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        carriage = np.eye(4)
        carriage[:3, 3] = q[:3]
        wrist = np.eye(4)
        wrist[:3, :3] = self.wrist_rotation(q)
        return carriage @ self.wrist_mount @ wrist @ self.flange

    def base_T_camera(self, q) -> np.ndarray:
        return self.base_T_tool(q) @ self.tool_T_camera

    def world_T_camera(self, q) -> np.ndarray:
        """The camera optical frame's pose in the world (what /gantry/camera_pose carries)."""
        return self.world_T_base @ self.base_T_camera(q)

    # --- differential kinematics --------------------------------------------------------
    def jacobian(self, q, tool_T_point: np.ndarray | None = None) -> np.ndarray:
        """6x6 J with [v_point; w] = J @ qdot, in base coordinates.

        ``v_point`` is the velocity of the origin of ``tool_T_point`` (default: the tool
        frame's origin, so J is the tool Jacobian); ``w`` the tool's angular velocity.
        """
        q = np.asarray(q, dtype=float)
        base_T_point = self.base_T_tool(q)
        if tool_T_point is not None:
            base_T_point = base_T_point @ tool_T_point
        rotation = self.wrist_mount[:3, :3]
        directions = np.empty((3, 3))  # wrist axes in base coordinates, as columns
        for i, (axis, angle) in enumerate(zip(self.wrist_axes, q[3:6])):
            directions[:, i] = rotation @ _UNIT[axis]
            rotation = rotation @ _axis_rotation(axis, angle)
        x, y, z = base_T_point[:3, 3] - (q[:3] + self.wrist_mount[:3, 3])  # from the wrist centre
        jac = np.zeros((6, 6))
        jac[:3, :3] = np.eye(3)
        # axis x (point - centre) = -skew(point - centre) @ axis
        jac[:3, 3:] = -np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]]) @ directions
        jac[3:, 3:] = directions
        return jac

    def camera_jacobian(self, q) -> np.ndarray:
        """6x6 J_c with camera twist (camera frame) = J_c @ qdot."""
        rotation_t = self.base_T_camera(q)[:3, :3].T
        jac = self.jacobian(q, self.tool_T_camera)
        return np.vstack([rotation_t @ jac[:3], rotation_t @ jac[3:]])

    def camera_twist_to_joint_velocities(self, q, twist, sigma_threshold: float = 0.2,
                                         max_damping: float = 0.1):
        """Joint velocities producing the camera-frame ``twist``; (qdot, WristConditioning).

        The twist is turned into base coordinates with the hand-eye transform and the current
        tool orientation. The wrist rates solve the rotation by damped least squares; the
        prismatic axes then produce the camera centre's linear velocity exactly, including
        what the (possibly damped) wrist motion adds to it.
        """
        twist = np.asarray(twist, dtype=float)
        rotation = self.base_T_camera(q)[:3, :3]
        velocity, omega = rotation @ twist[:3], rotation @ twist[3:]
        jac = self.jacobian(q, self.tool_T_camera)
        wrist_rates, conditioning = damped_solve(jac[3:, 3:], omega, sigma_threshold, max_damping)
        qdot = np.concatenate([velocity - jac[:3, 3:] @ wrist_rates, wrist_rates])
        return qdot, conditioning

    def wrist_sigma_min(self, q) -> float:
        """Smallest singular value of the wrist's angular Jacobian (0 at a singularity)."""
        return float(np.linalg.svd(self.jacobian(q)[3:, 3:], compute_uv=False)[-1])

    # --- inverse kinematics -------------------------------------------------------------
    def inverse_kinematics(self, world_T_camera: np.ndarray, position_min=None,
                           position_max=None) -> np.ndarray:
        """Joint positions putting the camera at ``world_T_camera`` (closed form).

        Of the two wrist solutions the one inside the joint limits (when given) with the
        smallest wrist angles is returned; ConfigurationError if none fits the limits.
        """
        base_T_tool = (np.linalg.inv(self.world_T_base) @ np.asarray(world_T_camera, dtype=float)
                       @ np.linalg.inv(self.tool_T_camera))
        mount_rotation = self.wrist_mount[:3, :3]
        wrist = mount_rotation.T @ base_T_tool[:3, :3] @ self.flange[:3, :3].T
        a, b, c = Rotation.from_matrix(wrist).as_euler(self.wrist_axes.upper())
        proper_euler = self.wrist_axes[0] == self.wrist_axes[2]
        other_b = -b if proper_euler else np.pi - b
        candidates = [np.array([a, b, c]), _wrap(np.array([a + np.pi, other_b, c + np.pi]))]
        solutions = []
        for angles in candidates:
            q = np.zeros(N_JOINTS)
            q[3:] = angles
            rotation = mount_rotation @ self.wrist_rotation(q)
            q[:3] = (base_T_tool[:3, 3] - self.wrist_mount[:3, 3]
                     - rotation @ self.flange[:3, 3])
            solutions.append(q)
        if position_min is not None and position_max is not None:
            low, high = np.asarray(position_min, float), np.asarray(position_max, float)
            inside = [q for q in solutions if np.all(q >= low - 1e-9) and np.all(q <= high + 1e-9)]
            if not inside:
                raise ConfigurationError(
                    'the requested camera pose is outside the joint limits: it needs q = '
                    + ' or '.join(str(np.round(q, 4).tolist()) for q in solutions)
                    + f' with limits min {low.tolist()}, max {high.tolist()}')
            solutions = inside
        return min(solutions, key=lambda q: float(np.linalg.norm(q[3:])))
