"""Limits, watchdog and the gantry control step without ROS (the driver node's core)."""
import numpy as np
import pytest

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.se3 import pose_from_list
from aevs_ros.robot import (CommandWatchdog, GantryController, GantryModel, GantryStatus,
                            JointLimits, SafetyConfig, WorkspaceBox, config_from_parameters,
                            initial_joint_positions, with_live_values)
from aevs_ros.robot.safety import (MAX_TWIST, braking_speed, clamp_to_joint_limits,
                                   joint_command_fault, joint_state_fault, limit_acceleration,
                                   scale_to_velocity_limits, twist_fault)

DT = 0.01
VMAX = np.array([0.25, 0.25, 0.25, 1.0, 1.0, 1.0])
AMAX = np.array([2.0, 2.0, 2.0, 6.0, 6.0, 6.0])
LIMITS = JointLimits([-0.5, -0.5, 0.0, -3.1, -1.5, -3.1], [0.5, 0.5, 1.0, 3.1, 1.5, 3.1], VMAX, AMAX)
HOME = np.array([0.0, 0.0, 0.7, 0.0, 0.0, 0.0])  # camera at (0, 0, 0.6), looking down


def make_controller(box_min=(-0.4, -0.4, 0.15), box_max=(0.4, 0.4, 1.0), limits=LIMITS, **kwargs):
    model = GantryModel(flange=pose_from_list([0, 0, 0.1, 0, 0, 0, 1]),
                        tool_T_camera=pose_from_list([0.03, 0.0, 0.02, 0, 0, 0, 1]))
    return GantryController(model, SafetyConfig(limits, WorkspaceBox(box_min, box_max), **kwargs))


def run(controller, q, twist, seconds, halt=None):
    """Simulate the loop (q += qdot dt); returns the trajectory of (q, qdot, status)."""
    history = []
    for _ in range(int(round(seconds / DT))):
        result = controller.step(q, twist, DT, halt)
        q = q + result.qdot * DT
        history.append((q, result.qdot, result.status))
    return history


def test_velocity_scaling_keeps_the_direction():
    qdot = np.array([1.0, -0.1, 0.0, 4.0, 0.5, -0.2])
    scaled, limited = scale_to_velocity_limits(qdot, VMAX)
    assert limited and np.all(np.abs(scaled) <= VMAX + 1e-12)
    assert np.isclose(np.max(np.abs(scaled) / VMAX), 1.0)
    np.testing.assert_allclose(np.cross(scaled[:3], qdot[:3]), 0, atol=1e-12)
    np.testing.assert_allclose(scaled / np.linalg.norm(scaled), qdot / np.linalg.norm(qdot))
    same, limited = scale_to_velocity_limits(qdot * 0.01, VMAX)
    assert not limited and np.allclose(same, qdot * 0.01)


def test_acceleration_limit_bounds_each_change_and_keeps_its_direction():
    previous, target = np.array([0.2, 0.0, 0.0, 0.5, 0.0, 0.0]), np.zeros(6)
    command = limit_acceleration(target, previous, AMAX, DT)
    change = command - previous
    assert np.all(np.abs(change) <= AMAX * DT + 1e-12)
    np.testing.assert_allclose(change / np.linalg.norm(change), -previous / np.linalg.norm(previous))
    steps = 0
    while np.any(command != 0):
        command = limit_acceleration(target, command, AMAX, DT)
        steps += 1
    assert steps <= int(np.ceil(0.2 / (2.0 * DT)))  # 0.2 m/s at 2 m/s^2: 0.1 s


def test_braking_speed():
    speeds = braking_speed([-0.1, 0.0, 1e-4, 0.01, 1.0], 2.0, DT)
    np.testing.assert_allclose(speeds, [0.0, 0.0, 1e-2, np.sqrt(0.04), 2.0])


def test_joint_at_its_limit_cannot_go_further_out_but_can_come_back():
    q = LIMITS.position_max.copy()
    outward = np.array([0.1, 0.1, 0.1, 0.5, 0.5, 0.5])
    clamped, hit = clamp_to_joint_limits(q, outward, LIMITS, DT)
    assert hit and np.all(clamped == 0)
    inward, hit = clamp_to_joint_limits(q, -outward, LIMITS, DT)
    assert not hit and np.allclose(inward, -outward)


def test_watchdog_uses_arrival_times():
    watchdog = CommandWatchdog(0.1)
    assert not watchdog.is_fresh(0.0) and watchdog.age(5.0) == float('inf')
    watchdog.feed(10.0)
    assert watchdog.is_fresh(10.05) and watchdog.is_fresh(10.1)
    assert not watchdog.is_fresh(10.1001)
    watchdog.feed(10.2)
    assert watchdog.is_fresh(10.25)
    watchdog.reset()
    assert not watchdog.is_fresh(10.25)


def test_a_twist_beyond_the_limits_is_clamped_in_direction():
    controller = make_controller()
    twist = np.array([5.0, -2.0, 0.0, 0.0, 0.0, 8.0])
    history = run(controller, HOME, twist, 0.3)
    for _, qdot, _ in history:
        assert np.all(np.abs(qdot) <= VMAX + 1e-12)
    _, qdot, status = history[-1]
    assert status == GantryStatus.VELOCITY_LIMITED
    assert np.isclose(np.max(np.abs(qdot) / VMAX), 1.0)
    ideal, _ = controller.model.camera_twist_to_joint_velocities(history[-2][0], twist)
    np.testing.assert_allclose(qdot / np.linalg.norm(qdot), ideal / np.linalg.norm(ideal), atol=1e-3)


def test_halt_decelerates_at_the_acceleration_limit():
    controller = make_controller()
    history = run(controller, HOME, [0.2, 0.0, 0.0, 0.0, 0.0, 0.0], 0.3)
    q, moving = history[-1][0], history[-1][1]
    assert abs(moving[0]) == pytest.approx(0.2, abs=1e-9)
    halted = run(controller, q, None, 0.2)
    speeds = [abs(qdot[0]) for _, qdot, _ in halted]
    assert all(status == GantryStatus.NO_COMMAND for _, _, status in halted)
    assert np.all(np.diff([abs(moving[0])] + speeds) >= -AMAX[0] * DT - 1e-12)  # never harsher
    assert speeds[int(0.2 / 2.0 / DT)] == 0.0  # stopped after v / a = 0.1 s
    estop = run(make_controller(), HOME, [0.2, 0, 0, 0, 0, 0], 0.1, halt=GantryStatus.ESTOP)
    assert all(status == GantryStatus.ESTOP and not np.any(qdot) for _, qdot, status in estop)


def test_the_workspace_box_is_never_left_and_motion_slides_along_it():
    controller = make_controller(box_max=(0.4, 0.05, 0.62))
    model, box = controller.model, controller.safety.workspace
    # camera -y is world +Y, camera -z is world +Z (the camera looks down): push to the corner
    twist = np.array([0.1, -0.2, -0.2, 0.2, 0.0, 0.2])
    history = run(controller, HOME, twist, 1.5)
    positions = np.array([model.world_T_camera(q)[:3, 3] for q, _, _ in history])
    assert np.all(positions <= box.maximum)
    assert positions[-1, 1] > box.maximum[1] - 1e-3 and positions[-1, 2] > box.maximum[2] - 1e-3
    assert positions[-1, 0] > positions[0, 0] + 0.02  # still moving along the faces
    assert history[-1][2] == GantryStatus.WORKSPACE_BOUND
    # inward is fine
    back = run(controller, history[-1][0], -twist, 0.2)
    assert model.world_T_camera(back[-1][0])[2, 3] < box.maximum[2] - 1e-3


def test_a_camera_outside_the_box_may_only_move_inward():
    controller = make_controller(box_max=(0.4, 0.4, 0.55))  # camera at z = 0.6: above the box
    model = controller.model
    up = run(controller, HOME, [0, 0, -0.1, 0, 0, 0], 0.3)  # camera -z: world up
    assert all(model.world_T_camera(q)[2, 3] <= 0.6 + 1e-12 for q, _, _ in up)
    down = run(make_controller(box_max=(0.4, 0.4, 0.55)), HOME, [0, 0, 0.1, 0, 0, 0], 0.3)
    assert model.world_T_camera(down[-1][0])[2, 3] < 0.6 - 0.01


def test_joint_position_limits_are_never_crossed():
    limits = JointLimits([-0.5, -0.5, 0.0, -0.3, -1.5, -3.1], [0.5, 0.5, 1.0, 0.3, 1.5, 3.1], VMAX, AMAX)
    controller = make_controller(limits=limits)
    history = run(controller, HOME, [0, 0, 0, 0, 0, -1.0], 1.5)  # camera z: joint 4 (reversed)
    wrist = np.array([q[3] for q, _, _ in history])
    assert np.all(np.abs(wrist) <= 0.3 + 1e-12) and abs(wrist[-1]) > 0.3 - 1e-3
    assert history[-1][2] == GantryStatus.JOINT_BOUND


def test_approaching_a_singularity_slows_down_and_leaving_it_does_not():
    controller = make_controller()
    q = HOME.copy()
    q[4] = 1.45  # zyx wrist: sigma_min ~ 0.1, between halt (0.05) and slow-down (0.2)
    twist = controller.model.camera_jacobian(q) @ np.array([0, 0, 0, 0, 0.5, 0])  # q5 up
    towards = controller.step(q, twist, DT)
    assert towards.status == GantryStatus.DECELERATE_FOR_SINGULARITY
    away = make_controller().step(q, -twist, DT)
    assert away.status in (GantryStatus.OK, GantryStatus.VELOCITY_LIMITED)
    # past the acceleration ramp: slower towards the singularity than away from it
    steady = [make_controller() for _ in range(2)]
    for _ in range(20):
        towards, away = steady[0].step(q, twist, DT), steady[1].step(q, -twist, DT)
    assert np.linalg.norm(towards.qdot) < 0.5 * np.linalg.norm(away.qdot)
    q[4] = 1.56  # below the halt threshold
    assert make_controller().step(q, twist, DT).status == GantryStatus.HALT_FOR_SINGULARITY


def test_garbage_twists_and_joint_states_are_named_and_subnormals_pass():
    assert twist_fault([5e-324, -5e-324, 0.0, 0.1, MAX_TWIST, -MAX_TWIST]) is None
    assert 'non-finite' in twist_fault([0, 0, float('nan'), 0, 0, 0])
    assert 'beyond' in twist_fault([1.7e308, 0, 0, 0, 0, 0])
    assert 'beyond' in twist_fault([0, 0, 0, 0, 0, -MAX_TWIST * 1.001])
    span = LIMITS.position_max - LIMITS.position_min
    assert joint_state_fault(LIMITS.position_max + 0.99 * span, LIMITS) is None  # overshoot: steerable
    assert 'span' in joint_state_fault(LIMITS.position_max + 1.01 * span, LIMITS)
    assert 'non-finite' in joint_state_fault([0, 0, 0.5, float('inf'), 0, 0], LIMITS)
    assert joint_command_fault(HOME, VMAX, LIMITS, DT) is None
    assert 'non-finite' in joint_command_fault(HOME, [0, 0, float('nan'), 0, 0, 0], LIMITS, DT)
    assert 'max_velocity' in joint_command_fault(HOME, VMAX * 1.01, LIMITS, DT)
    assert 'position limit' in joint_command_fault(LIMITS.position_max, VMAX, LIMITS, DT)


@pytest.mark.parametrize('garbage', [1.7e308, -1e308, float('nan'), float('inf')])
def test_a_garbage_twist_halts_smoothly_with_a_reason_and_a_valid_one_resumes(garbage):
    controller = make_controller()
    moving = run(controller, HOME, [0.2, 0.0, 0.0, 0.0, 0.0, 0.5], 0.3)
    q, previous = moving[-1][0], moving[-1][1]
    halted = run(controller, q, [garbage, garbage, 0.0, 0.0, 0.0, 0.0], 0.2)
    commands = np.array([previous] + [qdot for _, qdot, _ in halted])
    assert np.all(np.isfinite(commands))
    assert np.all(np.abs(np.diff(commands, axis=0)) <= AMAX * DT + 1e-12)  # a ramp, not a jump
    assert not np.any(commands[-1])
    assert all(status == GantryStatus.INVALID_COMMAND for _, _, status in halted)
    assert 'twist' in controller.step(halted[-1][0], [garbage] * 6, DT).reason
    assert np.any(controller.step(halted[-1][0], [0.2, 0, 0, 0, 0, 0], DT).qdot)


@pytest.mark.parametrize('q', [[float('nan')] * 6, [0.0, 0.0, float('-inf'), 0.0, 0.0, 0.0],
                               [1e308, 0.0, 0.7, 0.0, 0.0, 0.0], [0.0, 0.0, 0.7, 0.0, 40.0, 0.0]])
def test_a_garbage_joint_state_stops_at_once_even_during_an_estop(q):
    controller = make_controller()
    run(controller, HOME, [0.2, 0.0, 0.0, 0.0, 0.0, 0.5], 0.3)
    for halt in (None, GantryStatus.ESTOP):
        result = controller.step(q, [0.2, 0.0, 0.0, 0.0, 0.0, 0.5], DT, halt)
        assert not np.any(result.qdot) and result.status == GantryStatus.INVALID_ROBOT_STATE
        assert 'joint positions' in result.reason
    assert not np.any(controller.previous)  # the next command ramps up from rest


class NaNKinematics(GantryModel):
    """A model whose twist-to-joint map is broken, to reach the controller's output check."""

    def camera_twist_to_joint_velocities(self, q, twist, sigma_threshold=0.2, max_damping=0.1):
        qdot, conditioning = super().camera_twist_to_joint_velocities(q, twist, sigma_threshold,
                                                                       max_damping)
        return np.full_like(qdot, np.nan), conditioning


def test_the_output_check_replaces_a_non_finite_command_by_zero():
    controller = make_controller()
    controller.model = NaNKinematics(flange=controller.model.flange)
    result = controller.step(HOME, [0.1, 0.0, 0.0, 0.0, 0.0, 0.0], DT)
    assert not np.any(result.qdot) and result.status == GantryStatus.INVALID_COMMAND
    assert 'non-finite joint command' in result.reason


PARAMETERS = {
    'wrist_axes': 'zyx', 'wrist_mount': [0, 0, 0, 1, 0, 0, 0], 'flange': [0, 0, 0.1, 0, 0, 0, 1],
    'tool_T_camera': [0, 0, 0, 0, 0, 0, 1], 'world_T_base': [0, 0, 0, 0, 0, 0, 1],
    'joint_names': ['x', 'y', 'z', 'a', 'b', 'c'],
    'position_min': LIMITS.position_min.tolist(), 'position_max': LIMITS.position_max.tolist(),
    'max_velocity': VMAX.tolist(), 'max_acceleration': AMAX.tolist(),
    'workspace_min': [-0.4, -0.4, 0.15], 'workspace_max': [0.4, 0.4, 1.0], 'command_timeout': 0.1,
    'singularity_slowdown': 0.2, 'singularity_halt': 0.05, 'max_damping': 0.1,
}


@pytest.mark.parametrize('change, message', [
    ({'position_min': [0.6, -0.5, 0.0, -3, -1.5, -3]}, 'below position_max'),
    ({'max_velocity': [0.1] * 5}, 'max_velocity must be 6'),
    ({'max_acceleration': [1, 1, 1, 1, 1, 0]}, 'positive'),
    ({'workspace_max': [0.4, -0.5, 1.0]}, 'workspace_min'),
    ({'singularity_halt': 0.3}, 'singularity_halt'),
    ({'command_timeout': 0.0}, 'command_timeout'),
    ({'wrist_axes': 'zzy'}, 'wrist'),
])
def test_inconsistent_parameters_are_refused(change, message):
    with pytest.raises(ConfigurationError, match=message):
        config_from_parameters({**PARAMETERS, **change})
    _, safety = config_from_parameters(PARAMETERS)
    live = {k: v for k, v in change.items() if k != 'wrist_axes'}
    if live:
        with pytest.raises(ConfigurationError):
            with_live_values(safety, live)


def test_live_values_replace_only_what_changed():
    _, safety = config_from_parameters(PARAMETERS)
    changed = with_live_values(safety, {'max_velocity': [0.1] * 6, 'command_timeout': 0.3})
    assert np.all(changed.limits.velocity == 0.1) and changed.command_timeout == 0.3
    assert np.all(changed.limits.acceleration == AMAX) and changed.workspace == safety.workspace


def test_initial_position_must_be_inside_limits_and_box():
    model, safety = config_from_parameters(PARAMETERS)
    q = initial_joint_positions(model, safety, camera_pose=[0.1, 0, 0.5, 1, 0, 0, 0])
    np.testing.assert_allclose(model.world_T_camera(q)[:3, 3], [0.1, 0, 0.5], atol=1e-12)
    with pytest.raises(ConfigurationError, match='workspace box'):
        initial_joint_positions(model, safety, camera_pose=[0.0, 0, 0.1, 1, 0, 0, 0])
    with pytest.raises(ConfigurationError, match='joint limits'):
        initial_joint_positions(model, safety, joint_positions=[0, 0, 2.0, 0, 0, 0])
