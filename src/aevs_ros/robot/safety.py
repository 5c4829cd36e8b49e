"""Limits, clamping, the command watchdog and the gantry's control step. Pure NumPy: no ROS.

Every control cycle the driver node calls :meth:`GantryController.step` with the measured
joint positions and the latest *fresh* camera twist (or None). The step

0. refuses garbage inputs before any arithmetic: joint positions that are non-finite or far
   outside the limits (zero command, INVALID_ROBOT_STATE), a twist that is non-finite or beyond
   :data:`MAX_TWIST` (halt, INVALID_COMMAND),
1. turns the twist into joint velocities (:mod:`.gantry`: hand-eye, damped wrist),
2. slows down when approaching a wrist singularity (status DECELERATE/HALT_FOR_SINGULARITY),
3. scales the whole vector to the per-joint velocity limits (direction kept),
4. limits the change from the previous command to the per-joint accelerations (the whole
   change vector is scaled, so a halt decelerates all joints together, smoothly),
5. removes velocity that would leave the workspace box (camera position in the world) or
   cross a joint position limit, braking in time at the acceleration limit; inward motion
   and motion along a boundary are untouched,
6. checks with the exact forward kinematics that the next position stays inside,
7. checks its own output (finite, within the velocity and position limits): a command that
   fails is replaced by zero (INVALID_COMMAND), so nothing non-finite ever reaches a joint.

The change from the previous command stays within the acceleration limits, except where a
position bound (JOINT_BOUND, WORKSPACE_BOUND) or a garbage robot state or computed command
(INVALID_ROBOT_STATE, INVALID_COMMAND from the output check) forces a harder stop.

The status is the most severe condition met (:class:`GantryStatus`, ordered by severity),
MoveIt Servo's idea of reporting safety as a status rather than as an exception.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from aevs_ros.core.errors import ConfigurationError

from .gantry import N_JOINTS, GantryModel, WristConditioning

_EPS = 1e-12
#: [m/s, rad/s] largest camera twist component accepted: far beyond any gantry's speed, and far
#: below the magnitudes where the kinematics' products and sums could overflow to inf / NaN.
MAX_TWIST = 1e3
_LIMIT_TOLERANCE = 1e-9  #: rounding the output check allows: relative on speeds, m / rad on positions


class GantryStatus(IntEnum):
    """Why the commanded motion differs from the asked-for one; larger is more severe."""

    OK = 0
    VELOCITY_LIMITED = 1  #: scaled down to the joint velocity limits
    DECELERATE_FOR_SINGULARITY = 2
    JOINT_BOUND = 3  #: a joint at (or braking for) its position limit
    WORKSPACE_BOUND = 4  #: the camera at (or braking for) the workspace box
    HALT_FOR_SINGULARITY = 5
    NO_COMMAND = 6  #: no fresh twist (none arrived within command_timeout): halting
    INVALID_COMMAND = 7  #: the twist, or the joint command computed from it, failed a check
    NO_ROBOT_STATE = 8  #: no (fresh) joint state from the robot: halting
    ESTOP = 9  #: the e-stop is engaged: halting, zero until released
    #: the robot's joint positions are garbage (non-finite, far outside the limits): zero at
    #: once, since nothing (not even the camera pose) can be computed from them
    INVALID_ROBOT_STATE = 10


def finite_vector(values, size: int, name: str) -> np.ndarray:
    """``values`` as a read-only (size,) array; ConfigurationError naming ``name`` if not finite."""
    array = np.asarray(values, dtype=float).ravel()
    if array.shape != (size,) or not np.all(np.isfinite(array)):
        raise ConfigurationError(f'{name} must be {size} finite numbers, got {list(values)}')
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class JointLimits:
    position_min: np.ndarray  #: [m] for q1..q3, [rad] for q4..q6
    position_max: np.ndarray
    velocity: np.ndarray  #: [m/s], [rad/s]; > 0
    acceleration: np.ndarray  #: [m/s^2], [rad/s^2]; > 0

    def __post_init__(self):
        for name, parameter in (('position_min', 'position_min'), ('position_max', 'position_max'),
                                ('velocity', 'max_velocity'), ('acceleration', 'max_acceleration')):
            object.__setattr__(self, name, finite_vector(getattr(self, name), N_JOINTS, parameter))
        if not np.all(self.position_min < self.position_max):
            raise ConfigurationError(f'position_min {self.position_min.tolist()} must be below '
                                     f'position_max {self.position_max.tolist()} for every joint')
        if not (np.all(self.velocity > 0) and np.all(self.acceleration > 0)):
            raise ConfigurationError('max_velocity and max_acceleration must be positive for '
                                     'every joint')


@dataclass(frozen=True)
class WorkspaceBox:
    """Allowed positions of the camera centre, in world coordinates [m]."""

    minimum: np.ndarray
    maximum: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, 'minimum', finite_vector(self.minimum, 3, 'workspace_min'))
        object.__setattr__(self, 'maximum', finite_vector(self.maximum, 3, 'workspace_max'))
        if not np.all(self.minimum < self.maximum):
            raise ConfigurationError(f'workspace_min {self.minimum.tolist()} must be below '
                                     f'workspace_max {self.maximum.tolist()} on every axis')

    def outside_by(self, point) -> np.ndarray:
        """Per axis, how far ``point`` is outside the box (0 inside)."""
        point = np.asarray(point, dtype=float)
        return np.maximum(0.0, np.maximum(point - self.maximum, self.minimum - point))

    def contains(self, point, tolerance: float = 0.0) -> bool:
        return bool(np.all(self.outside_by(point) <= tolerance))


@dataclass(frozen=True)
class SafetyConfig:
    limits: JointLimits
    workspace: WorkspaceBox
    command_timeout: float = 0.1  #: [s] halt when no twist arrived for this long
    #: wrist conditioning (smallest singular value of its angular Jacobian, 1 = ideal):
    singularity_slowdown: float = 0.2  #: below: damped least squares and slow-down
    singularity_halt: float = 0.05  #: below: halt when moving towards the singularity
    max_damping: float = 0.1  #: lambda of damped least squares at the singularity

    def __post_init__(self):
        if not self.command_timeout > 0:
            raise ConfigurationError(f'command_timeout must be positive, got {self.command_timeout}')
        if not 0 <= self.singularity_halt < self.singularity_slowdown:
            raise ConfigurationError(
                f'need 0 <= singularity_halt ({self.singularity_halt}) < singularity_slowdown '
                f'({self.singularity_slowdown})')
        if not self.max_damping > 0:
            raise ConfigurationError(f'max_damping must be positive, got {self.max_damping}')


# --- input and output checks --------------------------------------------------------------
def twist_fault(twist) -> str | None:
    """Why ``twist`` is not a usable camera twist (one line), or None if it is.

    Subnormal components are fine; a component beyond :data:`MAX_TWIST` is a fault upstream,
    not a request to move at full speed.
    """
    twist = np.asarray(twist, dtype=float)
    if twist.shape != (6,):
        return f'a camera twist has 6 components, got shape {twist.shape}'
    if not np.all(np.isfinite(twist)):
        return f'non-finite twist {twist.tolist()}'
    peak = float(np.abs(twist).max())
    if peak > MAX_TWIST:
        return f'twist {twist.tolist()} has a component beyond {MAX_TWIST:g} m/s or rad/s'
    return None


def joint_state_fault(q, limits: JointLimits) -> str | None:
    """Why ``q`` cannot be the robot's joint positions (one line), or None if it can.

    A position outside the limits by more than their span is a bad reading (a unit error, a
    sensor fault), not a robot the controller may steer back.
    """
    q = np.asarray(q, dtype=float)
    if q.shape != (N_JOINTS,):
        return f'joint positions must be {N_JOINTS} numbers, got shape {q.shape}'
    if not np.all(np.isfinite(q)):
        return f'non-finite joint positions {q.tolist()}'
    span = limits.position_max - limits.position_min
    if np.any(q < limits.position_min - span) or np.any(q > limits.position_max + span):
        return f'joint positions {q.tolist()} are outside the limits by more than their span'
    return None


def joint_command_fault(q, qdot, limits: JointLimits, dt: float) -> str | None:
    """Why ``qdot`` must not be sent (one line), or None: non-finite, above the velocity
    limits, or moving a joint past a position limit (or further out, if already past)."""
    q, qdot = np.asarray(q, dtype=float), np.asarray(qdot, dtype=float)
    if not np.all(np.isfinite(qdot)):
        return f'computed a non-finite joint command {qdot.tolist()}'
    if np.any(np.abs(qdot) > limits.velocity * (1 + _LIMIT_TOLERANCE)):
        return f'computed a joint command {qdot.tolist()} above max_velocity'
    later = q + qdot * dt
    if (np.any(later > np.maximum(limits.position_max, q) + _LIMIT_TOLERANCE)
            or np.any(later < np.minimum(limits.position_min, q) - _LIMIT_TOLERANCE)):
        return f'computed a joint command {qdot.tolist()} that crosses a position limit'
    return None


# --- pure clamping functions ------------------------------------------------------------
def scale_to_velocity_limits(qdot, max_velocity) -> tuple[np.ndarray, bool]:
    """qdot scaled as a whole so every |qdot_i| <= max_velocity_i; (qdot, was_scaled)."""
    qdot = np.asarray(qdot, dtype=float)
    ratio = np.abs(qdot) / np.asarray(max_velocity, dtype=float)
    peak = float(ratio.max(initial=0.0))
    return (qdot / peak, True) if peak > 1.0 else (qdot.copy(), False)


def limit_acceleration(desired, previous, max_acceleration, dt: float) -> np.ndarray:
    """The command closest to ``desired`` reachable from ``previous`` in ``dt``.

    The change vector is scaled as a whole (all joints reach the target together), so a halt
    decelerates smoothly along the current direction.
    """
    desired, previous = np.asarray(desired, dtype=float), np.asarray(previous, dtype=float)
    change = desired - previous
    allowed = np.asarray(max_acceleration, dtype=float) * dt
    peak = float((np.abs(change) / allowed).max(initial=0.0))
    return previous + change / peak if peak > 1.0 else desired.copy()


def braking_speed(distance, deceleration, dt: float) -> np.ndarray:
    """Largest speed towards a limit ``distance`` away that can still stop before it.

    min(sqrt(2 a d), d / dt): stopping at the deceleration limit, and never crossing the
    limit within the next cycle; 0 at or beyond the limit.
    """
    distance = np.maximum(np.asarray(distance, dtype=float), 0.0)
    return np.minimum(np.sqrt(2.0 * np.asarray(deceleration, dtype=float) * distance),
                      distance / dt)


def clamp_to_joint_limits(q, qdot, limits: JointLimits, dt: float) -> tuple[np.ndarray, bool]:
    """Remove per joint the velocity towards a position limit it cannot stop before."""
    q, qdot = np.asarray(q, dtype=float), np.asarray(qdot, dtype=float)
    up = braking_speed(limits.position_max - q, limits.acceleration, dt)
    down = braking_speed(q - limits.position_min, limits.acceleration, dt)
    clamped = np.clip(qdot, -down, up)
    return clamped, bool(np.any(np.abs(clamped - qdot) > _EPS))


def clamp_to_workspace(model: GantryModel, q, qdot, box: WorkspaceBox, deceleration: float,
                       dt: float) -> tuple[np.ndarray, bool]:
    """Remove the camera velocity that would leave the box; the prismatic axes correct it.

    Per world axis, the camera centre's velocity towards a face is limited to what can stop
    before that face; the difference is taken off by the prismatic joints, which translate
    the camera rigidly, so motion along a face and inward motion are kept.
    """
    q, qdot = np.asarray(q, dtype=float), np.asarray(qdot, dtype=float)
    position = model.world_T_camera(q)[:3, 3]
    world_rotation = model.world_T_base[:3, :3]
    velocity = world_rotation @ (model.jacobian(q, model.tool_T_camera)[:3] @ qdot)
    up = braking_speed(box.maximum - position, deceleration, dt)
    down = braking_speed(position - box.minimum, deceleration, dt)
    correction = np.clip(velocity, -down, up) - velocity
    if not np.any(np.abs(correction) > _EPS):
        return qdot.copy(), False
    qdot = qdot.copy()
    qdot[:3] += world_rotation.T @ correction
    return qdot, True


def keep_inside_workspace(model: GantryModel, q, qdot, box: WorkspaceBox, dt: float,
                          limits: JointLimits | None = None) -> tuple[np.ndarray, bool]:
    """Exact guard: the camera position after ``dt`` (forward kinematics) stays in the box.

    Catches what the linear clamp misses (the curvature of a rotating camera's path): the
    overshoot is taken off by the prismatic joints, which shifts the next position exactly.
    If that would break a joint position or velocity limit, the whole command is scaled
    down instead. A camera outside the box may move anywhere but further out.
    """
    q, qdot = np.asarray(q, dtype=float), np.asarray(qdot, dtype=float)
    now = model.world_T_camera(q)[:3, 3]
    upper, lower = np.maximum(box.maximum, now), np.minimum(box.minimum, now)

    def next_position(command):
        return model.world_T_camera(q + command * dt)[:3, 3]

    def acceptable(position):
        return bool(np.all(position <= upper) and np.all(position >= lower))

    later = next_position(qdot)
    if acceptable(later):
        return qdot.copy(), False
    shift = (np.where(later > upper, upper - 1e-12 - later, 0.0)
             + np.where(later < lower, lower + 1e-12 - later, 0.0))
    corrected = qdot.copy()
    corrected[:3] += model.world_T_base[:3, :3].T @ shift / dt
    within_joints = limits is None or (
        np.all(np.abs(corrected) <= limits.velocity * (1 + 1e-9))
        and np.all(q[:3] + corrected[:3] * dt <= np.maximum(limits.position_max[:3], q[:3]))
        and np.all(q[:3] + corrected[:3] * dt >= np.minimum(limits.position_min[:3], q[:3])))
    if within_joints and acceptable(next_position(corrected)):
        return corrected, True
    low, high = 0.0, 1.0  # scale 0 keeps the camera where it is: always acceptable
    for _ in range(30):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if acceptable(next_position(middle * qdot)) else (low, middle)
    return qdot * low, True


def singularity_scale(model: GantryModel, q, qdot, sigma_min: float, config: SafetyConfig,
                      dt: float) -> tuple[float, GantryStatus]:
    """(scale, status) for a command near a wrist singularity (moveit_servo's rule).

    Full speed when well conditioned or moving away from the singularity; approaching it,
    the speed falls linearly from 1 at ``singularity_slowdown`` to 0 at ``singularity_halt``.
    """
    if sigma_min >= config.singularity_slowdown:
        return 1.0, GantryStatus.OK
    sigma_next = model.wrist_sigma_min(np.asarray(q, float) + np.asarray(qdot, float) * dt)
    if sigma_next >= sigma_min - 1e-12:
        return 1.0, GantryStatus.OK
    scale = float(np.clip((sigma_min - config.singularity_halt)
                          / (config.singularity_slowdown - config.singularity_halt), 0.0, 1.0))
    if scale == 0.0:
        return 0.0, GantryStatus.HALT_FOR_SINGULARITY
    return scale, GantryStatus.DECELERATE_FOR_SINGULARITY


class CommandWatchdog:
    """Fresh while the last command *arrived* less than ``timeout`` seconds ago.

    Times are receive times on a monotonic clock supplied by the caller, never message stamps.
    """

    def __init__(self, timeout: float):
        self.timeout = float(timeout)
        self._last_arrival = None

    def feed(self, now: float) -> None:
        self._last_arrival = float(now)

    def reset(self) -> None:
        self._last_arrival = None

    def age(self, now: float) -> float:
        return float('inf') if self._last_arrival is None else float(now) - self._last_arrival

    def is_fresh(self, now: float) -> bool:
        return self.age(now) <= self.timeout


@dataclass
class StepResult:
    qdot: np.ndarray  #: joint velocity command [m/s, rad/s]
    status: GantryStatus
    conditioning: WristConditioning | None = None
    reason: str = ''  #: for INVALID_COMMAND / INVALID_ROBOT_STATE: what failed, in one line


@dataclass
class GantryController:
    """One control cycle: camera twist -> safe joint velocity command (see module doc)."""

    model: GantryModel
    safety: SafetyConfig
    previous: np.ndarray = field(default_factory=lambda: np.zeros(N_JOINTS))

    def reset(self, qdot=None) -> None:
        """Forget the previous command (e.g. after re-reading the robot's velocity)."""
        self.previous = np.zeros(N_JOINTS) if qdot is None else np.asarray(qdot, float).copy()

    def step(self, q, twist=None, dt: float = 0.01,
             halt: GantryStatus | None = None) -> StepResult:
        """The next joint velocity command; ``twist=None`` or a ``halt`` status brings it to rest.

        ``twist`` must be fresh (the caller's watchdog); any values are safe: garbage twists and
        joint positions halt with a fault status and its reason. ``dt`` is the cycle [s].
        """
        q = np.asarray(q, dtype=float)
        dt = max(float(dt), 1e-4)
        limits, conditioning = self.safety.limits, None
        state_fault = joint_state_fault(q, limits)
        if state_fault is not None:
            return self._zero(GantryStatus.INVALID_ROBOT_STATE, state_fault)
        reason = twist_fault(twist) if halt is None and twist is not None else None
        if reason is not None:
            halt = GantryStatus.INVALID_COMMAND
        status = GantryStatus.OK
        if halt is not None or twist is None:
            desired = np.zeros(N_JOINTS)
            status = GantryStatus.NO_COMMAND if halt is None else GantryStatus(halt)
        else:
            desired, conditioning = self.model.camera_twist_to_joint_velocities(
                q, twist, self.safety.singularity_slowdown, self.safety.max_damping)
            scale, status = singularity_scale(self.model, q, desired, conditioning.sigma_min,
                                              self.safety, dt)
            desired, scaled = scale_to_velocity_limits(desired * scale, limits.velocity)
            if scaled:
                status = max(status, GantryStatus.VELOCITY_LIMITED)
        qdot = limit_acceleration(desired, self.previous, limits.acceleration, dt)
        qdot, at_box = clamp_to_workspace(self.model, q, qdot, self.safety.workspace,
                                          float(limits.acceleration[:3].min()), dt)
        qdot, at_joint = clamp_to_joint_limits(q, qdot, limits, dt)
        qdot, _ = scale_to_velocity_limits(qdot, limits.velocity)  # after the box correction
        qdot, guarded = keep_inside_workspace(self.model, q, qdot, self.safety.workspace, dt,
                                              limits)
        if at_box or guarded:
            status = max(status, GantryStatus.WORKSPACE_BOUND)
        if at_joint:
            status = max(status, GantryStatus.JOINT_BOUND)
        command_fault = joint_command_fault(q, qdot, limits, dt)
        if command_fault is not None:
            return self._zero(GantryStatus.INVALID_COMMAND, command_fault)
        self.previous = qdot
        return StepResult(qdot, status, conditioning, reason or '')

    def _zero(self, status: GantryStatus, reason: str) -> StepResult:
        """Stop at once: no command computed from garbage can be trusted, not even a ramp."""
        self.previous = np.zeros(N_JOINTS)
        return StepResult(self.previous.copy(), status, reason=reason)
