"""ServoSession without ROS: cameras, fitting, goals that carry their camera, nothing locked in."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import PinholeCamera, default_camera
from aevs_ros.core.errors import AevsError, ModelError
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import ServoConfig, ServoState
from aevs_ros.core.servo_session import ServoSession, SessionConfig, fit_image

CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
START = se3.displaced(GOAL, (0.01, -0.01, 0.005, 1.0, -1.0, 0.5))


@pytest.fixture(scope='module')
def scene():
    return PlanarScene.load()


def view(scene, pose=GOAL, camera=CAMERA):
    return scene.render(camera, pose).image


def test_first_bad_frames_lock_nothing(scene):
    """A 1x1 or 16x16 first frame faults with its reason; the next good frame servoes at its size."""
    session = ServoSession(SessionConfig('dvs'))
    for size in (1, 16):
        command, _ = session.step(np.zeros((size, size), np.float32), None)
        assert command.state is ServoState.FAULT and 'smallest servo input' in command.reason
    command, fitted = session.step(view(scene, START), CAMERA)
    assert command.state is ServoState.IDLE and fitted.shape == CAMERA.shape
    assert session.feature.camera == CAMERA


def test_goal_before_any_frame_is_refused():
    session = ServoSession(SessionConfig('dvs'))
    with pytest.raises(AevsError, match='no camera frame yet'):
        session.set_goal(np.zeros((480, 640), np.float32))
    assert session.goal is None


def test_goal_of_another_size_is_refused_and_servoing_goes_on(scene):
    session = ServoSession(SessionConfig('dvs'))
    session.step(view(scene, START), CAMERA)
    session.set_goal(view(scene))
    with pytest.raises(AevsError, match='goal image is 640x480'):
        session.set_goal(np.full((480, 640), 0.5, np.float32))
    command, _ = session.step(view(scene, START), CAMERA)
    assert command.state is ServoState.SERVOING and np.linalg.norm(command.velocity) > 0


def test_goal_with_its_camera_info_is_checked_against_the_camera(scene):
    session = ServoSession(SessionConfig('dvs', input_shape=(64, 64)))
    session.step(view(scene, START), CAMERA)
    other = PinholeCamera(320, 240, 260.0, 260.0, 159.5, 119.5)  # the 13.8 cm case
    with pytest.raises(AevsError, match='taken with another camera'):
        session.set_goal(view(scene, camera=other), other)
    # a wider camera whose centre crop is this camera: the same geometry once fitted
    wide = PinholeCamera(96, 64, CAMERA.fx, CAMERA.fy, CAMERA.cx + 16, CAMERA.cy)
    session.set_goal(view(scene, camera=wide), wide)
    command, _ = session.step(view(scene), CAMERA)
    # the crop and the render differ by their resampling, so the step left is a few micrometres
    step = np.abs(command.velocity) / ServoConfig().gain
    assert step[:3].max() < 2e-5 and step[3:].max() < 5e-5, command


def test_a_camera_change_faults_until_the_goal_camera_is_back(scene):
    session = ServoSession(SessionConfig('dvs'))
    session.step(view(scene, START), CAMERA)
    session.set_goal(view(scene))
    small = default_camera(32)
    command, _ = session.step(view(scene, START, small), small)
    assert command.state is ServoState.FAULT and 'taken with another camera' in command.reason
    command, _ = session.step(view(scene, START), CAMERA)
    assert command.state is ServoState.SERVOING


def test_own_camera_goal_follows_camera_info_of_the_same_size(scene):
    """A goal set while only the fallback intrinsics were known stays valid when camera_info
    brings the true ones for frames of the same size: the pixels came from that camera."""
    session = ServoSession(SessionConfig('dvs', camera_fallback=(50.0, 50.0, 31.5, 31.5)))
    session.step(view(scene), None)
    session.set_goal(None)  # the current frame
    command, _ = session.step(view(scene), CAMERA)
    assert session.goal.camera == CAMERA and command.state is ServoState.CONVERGED


def test_featureless_goal_is_refused(scene):
    session = ServoSession(SessionConfig('dvs'))
    session.step(view(scene, START), CAMERA)
    for image in (np.full(CAMERA.shape, 0.5, np.float32), np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))):
        with pytest.raises(AevsError, match='too little texture'):
            session.set_goal(image)
    assert session.goal is None


def test_nan_frame_faults_and_pause_holds_through_it(scene):
    session = ServoSession(SessionConfig('dvs'))
    session.step(view(scene, START), CAMERA)
    session.set_goal(view(scene))
    session.pause(True)
    command, _ = session.step(np.full(CAMERA.shape, np.nan, np.float32), CAMERA)
    assert command.state is ServoState.FAULT and 'NaN' in command.reason
    assert session.state is ServoState.PAUSED
    command, _ = session.step(view(scene, START), CAMERA)
    assert command.state is ServoState.PAUSED and not np.any(command.velocity)
    session.pause(False)
    assert session.step(view(scene, START), CAMERA)[0].state is ServoState.SERVOING


@pytest.mark.parametrize('method, content', [
    ('aevs', b''), ('aevs', b'\x80\x02garbage' * 100), ('pca', bytes(range(256)) * 10), ('pca', b'')])
def test_unreadable_model_is_refused_at_start(tmp_path, method, content):
    path = tmp_path / ('model.pt' if method == 'aevs' else 'basis.npz')
    path.write_bytes(content)
    with pytest.raises(ModelError):
        ServoSession(SessionConfig(method, model_path=str(path)))


def test_fit_image_crops_to_the_aspect_ratio_then_resizes(scene):
    wide = PinholeCamera(128, 64, 90.0, 90.0, 63.5, 31.5)
    image, camera = fit_image(view(scene, camera=wide), wide, (32, 32))
    assert image.shape == (32, 32) and camera.width == 32 and camera.fx == pytest.approx(45.0)
