"""Gantry kinematics without ROS: FK/IK round trips, Jacobians against finite differences,
the camera twist -> joint velocity map, and damped least squares at the wrist singularity."""
import os

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from aevs_ros.core import se3
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.se3 import pose_from_list
from aevs_ros.robot import (GantryModel, config_from_parameters, damped_solve,
                            initial_joint_positions)

CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'config')


def random_pose(rng, spread=0.3):
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_rotvec(rng.normal(size=3) * spread).as_matrix()
    pose[:3, 3] = rng.normal(size=3) * 0.1
    return pose


def general_model(axes='zyx', seed=0):
    """A model with every offset non-trivial, so that no term can hide."""
    rng = np.random.default_rng(seed)
    return GantryModel(wrist_axes=axes, wrist_mount=pose_from_list([0.02, -0.01, 0.03, 1, 0, 0, 0])
                       @ random_pose(rng, 0.1), flange=random_pose(rng),
                       tool_T_camera=random_pose(rng), world_T_base=random_pose(rng))


def random_q(rng, wrist=1.2):
    return np.concatenate([rng.uniform(-0.4, 0.4, 3), rng.uniform(-wrist, wrist, 3)])


def test_default_home_pose_looks_straight_down_like_look_at():
    model = GantryModel()
    q = np.array([0.0, 0.0, 0.6, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(model.world_T_camera(q), se3.look_at((0, 0, 0.6), (0, 0, 0)),
                               atol=1e-12)


def test_prismatic_joints_translate_the_camera_along_base_axes():
    model = general_model()
    q = np.zeros(6)
    for axis in range(3):
        moved = q.copy()
        moved[axis] = 0.1
        shift = model.world_T_camera(moved)[:3, 3] - model.world_T_camera(q)[:3, 3]
        np.testing.assert_allclose(shift, 0.1 * model.world_T_base[:3, axis], atol=1e-12)


@pytest.mark.parametrize('axes', ['zyx', 'zxz', 'xyz', 'zyz'])
def test_inverse_kinematics_round_trip(axes):
    model, rng = general_model(axes), np.random.default_rng(1)
    for _ in range(50):
        q = random_q(rng, wrist=3.0)
        target = model.world_T_camera(q)
        solution = model.inverse_kinematics(target)
        np.testing.assert_allclose(model.world_T_camera(solution), target, atol=1e-9)


def test_inverse_kinematics_returns_the_small_angle_solution():
    model, rng = general_model(), np.random.default_rng(2)
    for _ in range(50):
        q = random_q(rng, wrist=1.2)  # |angles| < pi/2: the other solution is larger
        np.testing.assert_allclose(model.inverse_kinematics(model.world_T_camera(q)), q, atol=1e-9)


def test_inverse_kinematics_refuses_a_pose_outside_the_joint_limits():
    model = GantryModel()
    low, high = [-0.5, -0.5, 0.0, -3.2, -1.6, -3.2], [0.5, 0.5, 1.0, 3.2, 1.6, 3.2]
    far = se3.look_at((2.0, 0.0, 0.6), (2.0, 0.0, 0.0))
    with pytest.raises(ConfigurationError, match='outside the joint limits'):
        model.inverse_kinematics(far, low, high)
    np.testing.assert_allclose(model.inverse_kinematics(se3.look_at((0.1, 0, 0.6), (0.1, 0, 0)),
                                                        low, high)[:3], [0.1, 0.0, 0.6], atol=1e-12)


def test_tool_jacobian_matches_finite_differences():
    model, rng, h = general_model(), np.random.default_rng(3), 1e-6
    for _ in range(10):
        q = random_q(rng)
        numeric = np.zeros((6, 6))
        for i in range(6):
            step = np.zeros(6)
            step[i] = h
            plus, minus = model.base_T_tool(q + step), model.base_T_tool(q - step)
            numeric[:3, i] = (plus[:3, 3] - minus[:3, 3]) / (2 * h)
            numeric[3:, i] = Rotation.from_matrix(plus[:3, :3] @ minus[:3, :3].T).as_rotvec() / (2 * h)
        np.testing.assert_allclose(model.jacobian(q), numeric, atol=1e-7)


def test_camera_jacobian_matches_finite_differences_of_the_camera_pose():
    model, rng, h = general_model('zxz'), np.random.default_rng(4), 1e-6
    for _ in range(10):
        q = random_q(rng)
        pose = model.world_T_camera(q)
        numeric = np.column_stack([se3.log(se3.inverse(pose) @ model.world_T_camera(q + h * e)) / h
                                   for e in np.eye(6)])
        np.testing.assert_allclose(model.camera_jacobian(q), numeric, atol=1e-5)


def test_twist_to_joint_velocities_is_exact_away_from_singularities():
    model, rng = general_model(), np.random.default_rng(5)
    for _ in range(20):
        q, twist = random_q(rng, wrist=0.8), rng.normal(size=6)
        qdot, conditioning = model.camera_twist_to_joint_velocities(q, twist)
        assert conditioning.damping == 0.0
        np.testing.assert_allclose(model.camera_jacobian(q) @ qdot, twist, atol=1e-10)


def test_integrating_the_joint_velocities_follows_se3_integrate():
    model = general_model()
    q, twist, dt, steps = np.array([0.1, -0.05, 0.2, 0.2, -0.3, 0.1]), \
        np.array([0.02, -0.01, 0.03, 0.1, -0.05, 0.2]), 0.001, 1000
    start = model.world_T_camera(q)
    for _ in range(steps):
        qdot, _ = model.camera_twist_to_joint_velocities(q, twist)
        q = q + qdot * dt
    translation, angle = se3.pose_error(model.world_T_camera(q), se3.integrate(start, twist, steps * dt))
    assert translation < 1e-4 and angle < 0.01


def test_damped_least_squares_is_exact_when_well_conditioned():
    rng = np.random.default_rng(6)
    matrix, target = np.eye(3) + 0.1 * rng.normal(size=(3, 3)), rng.normal(size=3)
    x, conditioning = damped_solve(matrix, target, sigma_threshold=0.2, max_damping=0.1)
    np.testing.assert_allclose(x, np.linalg.solve(matrix, target), atol=1e-12)
    assert conditioning.damping == 0.0 and conditioning.sigma_min > 0.2


def test_wrist_rates_stay_bounded_at_the_singularity():
    model = GantryModel()  # zyx wrist: singular at q5 = +-pi/2
    sigmas, peaks = [], []
    for offset in (0.3, 0.1, 1e-2, 1e-4, 1e-8, 0.0):
        q = np.array([0.0, 0.0, 0.6, 0.2, np.pi / 2 - offset, -0.1])
        qdot, conditioning = model.camera_twist_to_joint_velocities(q, [0, 0, 0, 0.3, 0.2, 0.1])
        sigmas.append(conditioning.sigma_min)
        peaks.append(np.abs(qdot[3:]).max())
        assert np.all(np.isfinite(qdot))
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] < 1e-12
    # |x| <= |w| / (2 lambda) with lambda -> 0.1 at the singularity: a few rad/s at most
    assert max(peaks) < 0.4 / (2 * 0.1) * 1.5
    # without damping the same command needs ever larger rates
    q = np.array([0.0, 0.0, 0.6, 0.2, np.pi / 2 - 1e-4, -0.1])
    undamped, _ = model.camera_twist_to_joint_velocities(q, [0, 0, 0, 0.3, 0.2, 0.1],
                                                         sigma_threshold=0.0)
    assert np.abs(undamped[3:]).max() > 100 * max(peaks)


@pytest.mark.parametrize('kwargs, message', [
    ({'wrist_axes': 'zzx'}, 'consecutive'),
    ({'wrist_axes': 'zy'}, 'three letters'),
    ({'tool_T_camera': np.diag([1.0, 1.0, 2.0, 1.0])}, 'rigid'),
    ({'joint_names': ('a', 'b', 'c', 'd', 'e', 'e')}, 'distinct'),
])
def test_invalid_models_are_refused(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        GantryModel(**kwargs)


def test_poses_need_unit_quaternions():
    with pytest.raises(ConfigurationError, match='unit quaternion'):
        pose_from_list([0, 0, 0, 0, 0, 0, 2])
    with pytest.raises(ConfigurationError, match='7 finite numbers'):
        pose_from_list([0, 0, 0, 1])


@pytest.mark.parametrize('name', ['gantry.yaml', 'gantry_real.yaml'])
def test_shipped_configurations_are_valid(name):
    with open(os.path.join(CONFIG_DIR, name)) as stream:
        parameters = yaml.safe_load(stream)['/**']['ros__parameters']
    defaults = {'command_timeout': 0.1, 'singularity_slowdown': 0.2, 'singularity_halt': 0.05,
                'max_damping': 0.1}
    model, safety = config_from_parameters({**defaults, **parameters})
    assert model.joint_names == tuple(parameters['joint_names'])
    if 'initial_camera_pose' in parameters:
        q = initial_joint_positions(model, safety, camera_pose=parameters['initial_camera_pose'])
        np.testing.assert_allclose(model.world_T_camera(q),
                                   pose_from_list(parameters['initial_camera_pose']), atol=1e-12)
