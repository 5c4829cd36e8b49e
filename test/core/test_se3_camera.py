"""SE(3) utilities against scipy's Rotation, and the pinhole camera model."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aevs_ros.core import se3
from aevs_ros.core.camera import PinholeCamera, default_camera
from aevs_ros.core.errors import ConfigurationError

rng = np.random.default_rng(0)


def random_pose():
    return se3.make_pose(Rotation.random(random_state=rng).as_matrix(), rng.normal(size=3))


@pytest.mark.parametrize("trial", range(5))
def test_exp_log_round_trip(trial):
    twist = rng.normal(size=6)
    twist[3:] *= 2.0 / np.linalg.norm(twist[3:])  # angles well below pi
    assert np.allclose(se3.log(se3.exp(twist)), twist, atol=1e-10)


def test_exp_rotation_matches_scipy_and_pure_translation():
    twist = np.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6])
    assert np.allclose(se3.exp(twist)[:3, :3], Rotation.from_rotvec(twist[3:]).as_matrix())
    assert np.allclose(se3.exp([1, 2, 3, 0, 0, 0])[:3, 3], [1, 2, 3])


def test_exp_matches_integration_of_constant_twist():
    """exp(xi) is where a constant body twist leads: compare with many small Euler steps."""
    twist = np.array([0.3, -0.1, 0.2, 0.5, 0.2, -0.4])
    pose = np.eye(4)
    steps = 20000
    for _ in range(steps):
        small = np.eye(4)
        small[:3, :3] = Rotation.from_rotvec(twist[3:] / steps).as_matrix()
        small[:3, 3] = twist[:3] / steps
        pose = pose @ small
    assert np.allclose(se3.exp(twist), pose, atol=1e-4)


def test_inverse_and_pose_error():
    a, b = random_pose(), random_pose()
    assert np.allclose(se3.inverse(a) @ a, np.eye(4))
    t, r = se3.pose_error(a, b)
    assert t == pytest.approx(np.linalg.norm(a[:3, 3] - b[:3, 3]))
    expected = np.degrees((Rotation.from_matrix(a[:3, :3]).inv() * Rotation.from_matrix(b[:3, :3])).magnitude())
    assert r == pytest.approx(expected)
    assert se3.pose_error(a, a) == pytest.approx((0.0, 0.0), abs=1e-6)


def test_integrate_is_body_frame_motion():
    pose = se3.look_at((0, 0, 0.6), (0, 0, 0))
    moved = se3.integrate(pose, [0, 0, 1.0, 0, 0, 0], dt=0.1)  # forward along the optical axis
    assert np.allclose(moved[:3, 3], [0, 0, 0.5])


def test_look_at_points_optical_axis_at_target():
    eye, target = np.array([0.3, -0.2, 0.7]), np.array([0.05, 0.02, 0.0])
    for roll in (0.0, 0.7, -2.0):
        pose = se3.look_at(eye, target, roll)
        axis = pose[:3, 2]
        assert np.allclose(axis, (target - eye) / np.linalg.norm(target - eye))
        assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3))
        assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)


def test_displaced_applies_offset_in_own_frame():
    goal = se3.look_at((0, 0, 0.6), (0, 0, 0))
    start = se3.displaced(goal, (0.01, 0.0, 0.1, 0, 0, 90))
    t, r = se3.pose_error(goal, start)
    assert t == pytest.approx(np.hypot(0.01, 0.1))
    assert r == pytest.approx(90.0)
    assert start[2, 3] == pytest.approx(0.5)  # +z of a downward camera is world -Z


def test_camera_info_round_trip_and_crop_scale():
    camera = PinholeCamera(640, 480, 500.0, 502.0, 319.5, 241.0)
    assert PinholeCamera.from_camera_info(camera.to_camera_info()) == camera
    cropped = camera.center_crop(480, 480)
    assert (cropped.cx, cropped.cy) == (camera.cx - 80, camera.cy)
    half = camera.scaled(320, 240)
    assert half.fx == pytest.approx(250.0) and half.cx == pytest.approx(159.5)


def test_camera_rejects_bad_intrinsics():
    with pytest.raises(ConfigurationError):
        PinholeCamera(0, 10, 1, 1, 0, 0)
    with pytest.raises(ConfigurationError):
        PinholeCamera.from_camera_info({"width": 10, "height": 10})


def test_default_camera_is_centred():
    camera = default_camera(128)
    x, y = camera.normalized_grid()
    assert x.shape == (128, 128)
    assert x[0, 0] == pytest.approx(-x[-1, -1]) and y[0, 0] == pytest.approx(-y[-1, -1])


def test_pose_lists_round_trip_and_only_rounding_is_normalised():
    from aevs_ros.core.errors import ConfigurationError

    pose = se3.look_at((0.1, -0.2, 0.6), (0.0, 0.05, 0.0), roll=0.3)
    np.testing.assert_allclose(se3.pose_from_list(se3.pose_to_list(pose)), pose, atol=1e-12)
    rounded = [0.0, 0.0, 0.6, 1.0004, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(se3.pose_from_list(rounded)[:3, :3], np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    with pytest.raises(ConfigurationError, match='goal_pose: the quaternion .* is not a unit quaternion'):
        se3.pose_from_list([0.0, 0.0, 0.6, 2.0, 0.0, 0.0, 0.0], 'goal_pose')
    for bad in ('above', [0.0, 0.6], [0.0, 0.0, np.nan, 1.0, 0.0, 0.0, 0.0], {'x': 1}):
        with pytest.raises(ConfigurationError, match=r'7 finite numbers \[x, y, z, qx, qy, qz, qw\]'):
            se3.pose_from_list(bad)
