"""Property test of the safety layer (issue 12, "no NaN ever reaches a joint"), without ROS.

Whatever twists and joint positions come in (huge, subnormal, NaN, inf, per axis mixed;
positions inside and outside the limits, at the wrist singularity, garbage), every command
GantryController.step returns is finite and within the velocity and position limits, the
camera never leaves the workspace box further, and the acceleration limit holds wherever the
controller promises it. hypothesis is not a dependency: a seeded NumPy Generator draws the
samples, so a failure names a reproducible episode.
"""
import numpy as np

from aevs_ros.core.se3 import pose_from_list
from aevs_ros.robot import (GantryController, GantryModel, GantryStatus, JointLimits,
                            SafetyConfig, WorkspaceBox)
from aevs_ros.robot.safety import MAX_TWIST

SEED = 12
EPISODES = 400
STEPS_PER_EPISODE = 12  # consecutive steps: the acceleration limit is relative to the last one
# the driver's defaults, but q5 reaches past the wrist singularity at +-pi/2 (the default
# limits put it at the very edge, where the joint bound would hide the singularity handling)
LIMITS = JointLimits([-0.5, -0.5, 0.0, -3.1416, -2.5, -3.1416], [0.5, 0.5, 1.0, 3.1416, 2.5, 3.1416],
                     [0.25, 0.25, 0.25, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 6.0, 6.0, 6.0])
SPAN = LIMITS.position_max - LIMITS.position_min
BOX = WorkspaceBox([-0.4, -0.4, 0.15], [0.4, 0.4, 1.0])
EDGE_VALUES = np.array([1e308, -1e308, 1.7e308, -1.7e308, np.finfo(float).max, 5e-324, -5e-324,
                    np.nan, np.inf, -np.inf, 0.0, MAX_TWIST, -MAX_TWIST, 1e4, -1e6])
TOLERANCE = 1e-9
MAX_DT = 0.05
# Beyond these distances from a joint limit / a box face no position bound can cut a command
# (braking_speed >= any allowed speed), so the acceleration limit must hold whatever the status.
JOINT_MARGIN = np.maximum(LIMITS.velocity**2 / (2 * LIMITS.acceleration), LIMITS.velocity * MAX_DT)
FLANGE, HAND_EYE = np.array([0.0, 0.0, 0.1]), np.array([0.03, 0.0, 0.02])  # translations only
# per world axis: a prismatic speed plus |w x r|, where |w| <= the sum of the wrist rates
CAMERA_SPEED = LIMITS.velocity[0] + np.sum(LIMITS.velocity[3:]) * np.linalg.norm(FLANGE + HAND_EYE)
BOX_MARGIN = max(CAMERA_SPEED**2 / (2 * LIMITS.acceleration[0]), CAMERA_SPEED * MAX_DT)


def make_controller():
    model = GantryModel(flange=pose_from_list([*FLANGE, 0, 0, 0, 1]),
                        tool_T_camera=pose_from_list([*HAND_EYE, 0, 0, 0, 1]))
    return GantryController(model, SafetyConfig(LIMITS, BOX))


def random_twist(rng, edge_share):
    """None (no command), or six components, each ordinary (random scale) or an edge value."""
    if rng.random() < 0.1:
        return None
    twist = rng.normal(size=6) * rng.choice([1e-3, 0.1, 1.0, 100.0])
    edge = rng.random(6) < edge_share
    twist[edge] = rng.choice(EDGE_VALUES, size=int(edge.sum()))
    return twist


def random_joint_positions(rng):
    """Inside the limits, at the wrist singularity, outside (by up to twice the span) or garbage."""
    q = rng.uniform(LIMITS.position_min, LIMITS.position_max)
    kind = rng.integers(4)
    if kind == 1:  # zyx wrist: singular at q5 = +-pi/2
        q[4] = rng.choice([-1.0, 1.0]) * (np.pi / 2 - abs(rng.normal()) * rng.choice([0.0, 1e-6, 1e-2]))
    elif kind == 2:
        outside = rng.random(6) < 0.3
        q[outside] = (rng.choice([LIMITS.position_min, LIMITS.position_max])[outside]
                      + rng.uniform(-2, 2, 6)[outside] * SPAN[outside])
    elif kind == 3:
        garbage = rng.random(6) < 0.3
        q[garbage] = rng.choice(EDGE_VALUES, size=int(garbage.sum()))
    return q


def is_usable_twist(twist):
    return np.all(np.isfinite(twist)) and np.all(np.abs(twist) <= MAX_TWIST)


def is_plausible_state(q):
    return (np.all(np.isfinite(q)) and np.all(q >= LIMITS.position_min - SPAN)
            and np.all(q <= LIMITS.position_max + SPAN))


def check_step(controller, q, twist, halt, dt, previous):
    """Assert every promise for one step; (command, status, whether the acceleration was checked)."""
    result = controller.step(q, twist, dt, halt)
    qdot, status = result.qdot, result.status
    assert qdot.shape == (6,) and np.all(np.isfinite(qdot)), qdot
    assert np.all(np.abs(qdot) <= LIMITS.velocity * (1 + TOLERANCE)), qdot
    if not is_plausible_state(q):
        assert status == GantryStatus.INVALID_ROBOT_STATE and result.reason and not np.any(qdot)
        return qdot, status, False
    later = q + qdot * dt
    assert np.all(later <= np.maximum(LIMITS.position_max, q) + TOLERANCE), (q, qdot)
    assert np.all(later >= np.minimum(LIMITS.position_min, q) - TOLERANCE), (q, qdot)
    now_at = controller.model.world_T_camera(q)[:3, 3]
    next_at = controller.model.world_T_camera(later)[:3, 3]
    assert np.all(next_at <= np.maximum(BOX.maximum, now_at) + TOLERANCE), (q, qdot)
    assert np.all(next_at >= np.minimum(BOX.minimum, now_at) - TOLERANCE), (q, qdot)
    if halt is None and twist is not None and not is_usable_twist(twist):
        assert status == GantryStatus.INVALID_COMMAND and result.reason, (twist, status)
    far_from_bounds = (np.all(q - LIMITS.position_min >= JOINT_MARGIN)
                       and np.all(LIMITS.position_max - q >= JOINT_MARGIN)
                       and np.all(now_at - BOX.minimum >= BOX_MARGIN)
                       and np.all(BOX.maximum - now_at >= BOX_MARGIN))
    if far_from_bounds:
        change = np.abs(qdot - previous)
        assert np.all(change <= LIMITS.acceleration * dt * (1 + TOLERANCE) + 1e-12), \
            (status, previous, qdot)
    return qdot, status, far_from_bounds


def test_no_input_yields_a_non_finite_or_over_limit_joint_command():
    rng = np.random.default_rng(SEED)
    statuses, acceleration_checks = set(), 0
    for episode in range(EPISODES):
        controller, previous = make_controller(), np.zeros(6)
        edge_share = rng.choice([0.0, 0.2, 0.6, 1.0])
        replace_state = rng.choice([0.0, 0.3, 1.0])  # else the robot follows its commands
        q = random_joint_positions(rng)
        for _ in range(STEPS_PER_EPISODE):
            twist = random_twist(rng, edge_share)
            halt = GantryStatus.ESTOP if rng.random() < 0.05 else None
            dt = float(rng.uniform(0.002, MAX_DT))
            try:
                previous, status, checked = check_step(controller, q, twist, halt, dt, previous)
            except AssertionError as failure:
                raise AssertionError(f'seed {SEED}, episode {episode}: q {q.tolist()}, twist '
                                     f'{twist if twist is None else twist.tolist()}') from failure
            statuses.add(status)
            acceleration_checks += checked
            q = random_joint_positions(rng) if rng.random() < replace_state else q + previous * dt
    # the samples reached every branch they are meant to test
    assert {GantryStatus.INVALID_COMMAND, GantryStatus.INVALID_ROBOT_STATE,
            GantryStatus.VELOCITY_LIMITED, GantryStatus.JOINT_BOUND, GantryStatus.ESTOP,
            GantryStatus.NO_COMMAND, GantryStatus.HALT_FOR_SINGULARITY,
            GantryStatus.DECELERATE_FOR_SINGULARITY, GantryStatus.WORKSPACE_BOUND} <= statuses
    assert acceleration_checks > 0.1 * EPISODES * STEPS_PER_EPISODE, acceleration_checks
