"""servo_node over real DDS: goals (service with an image or the current frame, `aevs set-goal`,
the servo_to_image action), twists stamped with their image, faults (stale camera, NaN image,
unsupported encoding, a size it cannot adapt) with recovery, pause / resume, live parameters,
and processing only the newest frame.

The node runs in-process in its own multi-threaded executor (as `servo_node` does); a probe
node plays the camera (a 30 Hz timer publishing the current frame) and records the outputs.
"""
import os
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from aevs_msgs.action import ServoToImage
from aevs_msgs.msg import ServoStatus
from aevs_msgs.srv import SetGoalImage
from geometry_msgs.msg import TwistStamped
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import SetBool

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.scene import PlanarScene
from aevs_ros.nodes import EXECUTOR_VARIABLE, make_executor, spin_until, stop_executor
from aevs_ros.nodes.image_conversions import array_to_image_msg, gray_to_image_msg
from aevs_ros.nodes.planar_renderer import camera_info_msg
from aevs_ros.nodes.servo_node import ServoNode
from waiting import wait_until

TIMEOUT_S = 10.0
CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
FAULT, SERVOING, CONVERGED, PAUSED, IDLE = (ServoStatus.STATE_FAULT, ServoStatus.STATE_SERVOING,
                                            ServoStatus.STATE_CONVERGED, ServoStatus.STATE_PAUSED,
                                            ServoStatus.STATE_IDLE)


@pytest.fixture(scope='module')
def views():
    scene = PlanarScene.load()
    start = se3.displaced(GOAL, (0.01, -0.01, 0.005, 1.0, -1.0, 0.5))
    return {'goal': scene.render(CAMERA, GOAL).image, 'start': scene.render(CAMERA, start).image}


def wait_for(future, timeout=TIMEOUT_S):
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout), 'no answer in time'
    return future.result()


@pytest.fixture
def servo(ros_context):
    """A ServoNode (dvs, 64x64) spun by its own executor, the one its main() uses."""
    def start(**parameters):
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        node = ServoNode(context=ros_context, parameter_overrides=overrides)
        executor = make_executor(os.environ.get(EXECUTOR_VARIABLE, ''), 4, context=ros_context)
        executor.add_node(node)
        stop = threading.Event()
        thread = threading.Thread(target=spin_until, args=(executor, stop.is_set), daemon=True)
        thread.start()
        started.append((node, executor, thread, stop))
        return node

    started = []
    yield start
    for node, executor, thread, stop in started:  # as servo_node's main() ends
        node.stop()
        stop.set()
        thread.join(5.0)
        stop_executor(executor)
        node.destroy_node()


class Probe:
    """The camera (current frame published at 30 Hz) plus recorders of the servo's outputs."""

    def __init__(self, node):
        self.node, self.lock = node, threading.Lock()
        self.frame = None  # a function stamp -> (Image, CameraInfo or None), or None: camera off
        self.sent = []  # stamps of the images published, in order
        self.twists, self.statuses = [], []
        self.image_pub = node.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, 'camera/camera_info', qos_profile_sensor_data)
        node.create_subscription(TwistStamped, 'servo/twist', self._record(self.twists), 100)
        node.create_subscription(ServoStatus, 'servo/status', self._record(self.statuses), 100)
        self.goal_client = node.create_client(SetGoalImage, 'set_goal_image')
        self.pause_client = node.create_client(SetBool, 'servo/pause')
        node.create_timer(1 / 30, self._tick)

    def _record(self, items):
        def on_msg(msg):
            with self.lock:
                items.append((time.monotonic(), msg))
        return on_msg

    def show(self, image, encoding='mono8', camera=CAMERA):
        """Stream a core image (float (h, w)) as the camera's frames, with camera_info."""
        def frame(stamp):
            msg = gray_to_image_msg(image, stamp, 'camera_optical_frame', encoding)
            return msg, camera_info_msg(camera, msg.header)
        self.frame = frame

    def show_message(self, make_msg):
        """Stream raw Image messages (make_msg(stamp) -> Image) with the usual camera_info."""
        def frame(stamp):
            msg = make_msg(stamp)
            msg.header.frame_id = 'camera_optical_frame'
            return msg, camera_info_msg(CAMERA, msg.header)
        self.frame = frame

    def _tick(self):
        frame = self.frame
        if frame is None:
            return
        image, info = frame(self.node.get_clock().now().to_msg())
        with self.lock:
            self.sent.append(image.header.stamp)
        self.image_pub.publish(image)
        if info is not None:
            self.info_pub.publish(info)

    def since(self, items, start):
        with self.lock:
            return [msg for t, msg in items if t >= start]

    def wait_status(self, predicate, start=0.0, timeout=TIMEOUT_S):
        """The first status since ``start`` that satisfies ``predicate``, or None."""
        found = []

        def check():
            found[:] = [s for s in self.since(self.statuses, start) if predicate(s)][:1]
            return bool(found)
        wait_until(check, timeout)
        return found[0] if found else None

    def wait_answered(self):
        """Until the servo has answered one of the frames sent (it knows the camera)."""
        assert self.wait_status(lambda s: s.header.stamp in self.sent) is not None, 'no frame answered'

    def set_goal(self, image=None, camera_info=None):
        """Call set_goal_image; once the servo answers frames if the camera is on."""
        if self.frame is not None:
            self.wait_answered()
        assert self.goal_client.wait_for_service(timeout_sec=TIMEOUT_S)
        request = SetGoalImage.Request(image=image or Image(), camera_info=camera_info or CameraInfo())
        return wait_for(self.goal_client.call_async(request))

    def pause(self, paused):
        assert self.pause_client.wait_for_service(timeout_sec=TIMEOUT_S)
        return wait_for(self.pause_client.call_async(SetBool.Request(data=paused)))


@pytest.fixture
def probe(spun_node):
    return Probe(spun_node('camera_probe'))


def twist_vector(msg):
    t = msg.twist
    return np.array([t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z])


def is_zero(msg):
    return not np.any(twist_vector(msg))


def servoing_normally(probe, start, timeout=TIMEOUT_S):
    return probe.wait_status(lambda s: s.state == SERVOING and s.iteration > 0, start, timeout)


# -- goals -------------------------------------------------------------------------------------------

def test_goal_image_gives_twists_stamped_with_their_image(servo, probe, views):
    servo()
    probe.show(views['start'])
    response = probe.set_goal(gray_to_image_msg(views['goal']))
    assert response.success, response.message
    start = time.monotonic()
    status = servoing_normally(probe, start)
    assert status is not None and status.method == 'dvs' and status.feature_error_norm > 0
    assert wait_until(lambda: len(probe.since(probe.twists, start)) >= 5)
    twist = probe.since(probe.twists, start)[-1]
    assert twist.header.frame_id == 'camera_optical_frame'
    assert twist.header.stamp in probe.sent, 'a twist must carry the stamp of the image it answers'
    assert np.linalg.norm(twist_vector(twist)) > 0

    probe.show(views['goal'])  # the camera reaches the goal view
    start = time.monotonic()
    assert probe.wait_status(lambda s: s.state == CONVERGED, start) is not None
    assert wait_until(lambda: any(is_zero(t) for t in probe.since(probe.twists, start)))


def test_empty_goal_image_means_the_current_frame(servo, probe, views):
    servo()
    response = probe.set_goal()  # no camera frame yet
    assert not response.success and 'no current camera frame' in response.message
    probe.show(views['start'])
    assert probe.wait_status(lambda s: s.state == IDLE and s.iteration == 0 and s.header.stamp in probe.sent)
    response = probe.set_goal()
    assert response.success, response.message
    # the goal is what the camera sees: converged at once
    assert probe.wait_status(lambda s: s.state == CONVERGED, time.monotonic()) is not None


def test_incompatible_goal_image_is_refused(servo, probe, views):
    servo()
    probe.show(views['start'])
    assert probe.wait_status(lambda s: s.state == IDLE and s.header.stamp in probe.sent)  # no goal yet
    tiny = gray_to_image_msg(np.zeros((8, 8), np.float32))
    response = probe.set_goal(tiny)
    assert not response.success and 'goal image is 8x8' in response.message, response.message


def test_aevs_set_goal_command(servo, probe, views, tmp_path):
    servo()
    probe.show(views['start'])
    assert probe.wait_status(lambda s: s.header.stamp in probe.sent)
    goal_file = tmp_path / 'goal.png'
    cv2.imwrite(str(goal_file), np.rint(views['goal'] * 255).astype(np.uint8))
    command = [sys.executable, '-c', 'import sys; from aevs_ros.cli import main; sys.exit(main())', 'set-goal']
    result = subprocess.run([*command, '--image', str(goal_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'accepted' in result.stdout
    assert servoing_normally(probe, time.monotonic()) is not None

    result = subprocess.run([*command, '--image', str(tmp_path / 'missing.png')], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and 'cannot read' in result.stderr

    result = subprocess.run(command, capture_output=True, text=True, timeout=60)  # the current frame
    assert result.returncode == 0 and 'accepted' in result.stdout, result.stdout + result.stderr
    assert probe.wait_status(lambda s: s.state == CONVERGED, time.monotonic()) is not None


def start_action(probe, spun_node, views):
    """The camera shows the start view; servo_to_image the goal view until it is SERVOING.

    Returns the client, the goal handle and the list the feedback goes to."""
    probe.show(views['start'])
    probe.wait_answered()
    client = ActionClient(spun_node('action_probe'), ServoToImage, 'servo_to_image')
    assert client.wait_for_server(timeout_sec=TIMEOUT_S)
    feedback = []
    goal_handle = wait_for(client.send_goal_async(ServoToImage.Goal(image=gray_to_image_msg(views['goal'])),
                                                  feedback_callback=lambda m: feedback.append(m.feedback)))
    assert goal_handle.accepted
    assert wait_until(lambda: any(f.state == SERVOING and f.iteration > 1 for f in feedback)), feedback
    return client, goal_handle, feedback


def test_servo_to_image_action_feedback_and_cancel(servo, probe, spun_node, views):
    servo()
    client, goal_handle, feedback = start_action(probe, spun_node, views)
    assert any(np.linalg.norm([f.velocity.linear.x, f.velocity.linear.y, f.velocity.linear.z]) > 0
               for f in feedback)

    cancelled_at = time.monotonic()
    wait_for(goal_handle.cancel_goal_async())
    result = wait_for(goal_handle.get_result_async())
    assert result.status == 5  # action_msgs/GoalStatus.STATUS_CANCELED
    assert not result.result.converged and result.result.reason == 'cancelled'
    assert wait_until(lambda: any(is_zero(t) for t in probe.since(probe.twists, cancelled_at)))
    # stopped: from now on only zero twists and IDLE
    time.sleep(0.3)
    later = time.monotonic()
    assert wait_until(lambda: len(probe.since(probe.twists, later)) >= 3)
    assert all(is_zero(t) for t in probe.since(probe.twists, later))
    assert all(s.state == IDLE for s in probe.since(probe.statuses, later))

    # an action to the current view succeeds at once
    goal_handle = wait_for(client.send_goal_async(ServoToImage.Goal()))
    result = wait_for(goal_handle.get_result_async())
    assert result.result.converged and result.result.reason == 'converged'


# -- faults ------------------------------------------------------------------------------------------

def test_stale_camera_faults_with_zero_twist_then_recovers(servo, probe, views):
    servo(image_timeout=0.3)
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    assert servoing_normally(probe, time.monotonic()) is not None
    probe.frame = None  # the camera stops
    stopped = time.monotonic()
    fault = probe.wait_status(lambda s: s.state == FAULT, stopped, timeout=3.0)
    assert fault is not None and 'stale camera' in fault.reason
    faulted = time.monotonic()
    assert faulted - stopped < 0.3 + 0.25, 'fault later than the image timeout (plus the watchdog period)'
    assert wait_until(lambda: any(is_zero(t) for t in probe.since(probe.twists, stopped)), 1.0)
    probe.show(views['start'])
    assert servoing_normally(probe, time.monotonic()) is not None


def slowed_down(node, seconds=None, gate=None):
    """Make every servo step of ``node`` sleep ``seconds`` or wait for ``gate`` while the returned
    event is set (the image conversion runs inside the step, so its delay is the step's)."""
    active, decode = threading.Event(), node.loop.decode

    def slow_decode(msg):
        if active.is_set():
            if gate is not None:
                active.clear()
                gate.wait(TIMEOUT_S)
            else:
                time.sleep(seconds)
        return decode(msg)

    node.loop.decode = slow_decode
    return active


@pytest.mark.multithreaded_executor  # the action client's result and feedback while we wait
def test_a_step_slower_than_image_timeout_is_no_stale_camera(servo, probe, spun_node, views):
    """Steps of 0.35 s against image_timeout 0.2 s: frames keep arriving, so no FAULT; the action
    keeps running and every twist answering a frame moves the camera."""
    node = servo(image_timeout=0.2, step_timeout=2.0)
    slow = slowed_down(node, seconds=0.35)
    _, goal_handle, _ = start_action(probe, spun_node, views)
    result = goal_handle.get_result_async()
    slow.set()
    start = time.monotonic()
    time.sleep(2.5)
    statuses = probe.since(probe.statuses, start)
    assert not [s.reason for s in statuses if s.state == FAULT]
    answers = [t for t in probe.since(probe.twists, start) if t.header.stamp in probe.sent]
    assert len(answers) >= 3 and not any(is_zero(t) for t in answers)
    assert not result.done(), 'the action ended during slow steps'
    wait_for(goal_handle.cancel_goal_async())
    assert wait_for(result).result.reason == 'cancelled'


def test_a_hung_step_gets_a_zero_twist_from_the_guard(servo, probe, views):
    node = servo(step_timeout=0.3)
    release = threading.Event()
    hang = slowed_down(node, gate=release)
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    assert servoing_normally(probe, time.monotonic()) is not None
    hang.set()
    hung_at = time.monotonic()
    fault = probe.wait_status(lambda s: s.state == FAULT and 'step_timeout' in s.reason, hung_at)
    assert fault is not None and 'servo step running for' in fault.reason
    assert wait_until(lambda: any(t.header.stamp == fault.header.stamp and is_zero(t)
                                  for t in probe.since(probe.twists, hung_at)))
    assert not [t for t in probe.since(probe.twists, hung_at) if not is_zero(t)], 'moved while hung'
    released_at = time.monotonic()
    release.set()
    dropped = probe.wait_status(lambda s: 'its twist was dropped' in s.reason, released_at)
    assert dropped is not None and dropped.state == FAULT
    assert servoing_normally(probe, time.monotonic()) is not None  # the next frame recovers


def nan_image(stamp):
    image = np.full(CAMERA.shape, np.nan, np.float32)
    return array_to_image_msg(image, stamp, encoding='32FC1')


def yuv_image(stamp):
    msg = Image(height=CAMERA.height, width=CAMERA.width, encoding='yuv422', step=2 * CAMERA.width)
    msg.data = bytes(2 * CAMERA.width * CAMERA.height)
    msg.header.stamp = stamp
    return msg


def rgb16_image(stamp):
    msg = Image(height=CAMERA.height, width=CAMERA.width, encoding='16UC3', step=6 * CAMERA.width)
    msg.data = bytes(6 * CAMERA.width * CAMERA.height)
    msg.header.stamp = stamp
    return msg


@pytest.mark.parametrize('bad_frame, reason', [
    (nan_image, 'NaN'),
    (yuv_image, "unsupported image encoding 'yuv422'"),
    (rgb16_image, "unsupported image encoding '16UC3'"),
    ('small', 'goal image was taken with another camera'),  # a 32x32 camera: not the goal's
])
def test_bad_images_fault_with_zero_twist_then_recover(servo, probe, views, bad_frame, reason):
    servo()
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    assert servoing_normally(probe, time.monotonic()) is not None
    if bad_frame == 'small':
        small = default_camera(32)
        probe.show(cv2.resize(views['start'], (32, 32), interpolation=cv2.INTER_AREA), camera=small)
    else:
        probe.show_message(bad_frame)
    start = time.monotonic()
    fault = probe.wait_status(lambda s: s.state == FAULT and reason in s.reason, start)
    assert fault is not None, probe.since(probe.statuses, start)[-3:]
    assert wait_until(lambda: any(t.header.stamp == fault.header.stamp for t in probe.since(probe.twists, start)))
    answer = next(t for t in probe.since(probe.twists, start) if t.header.stamp == fault.header.stamp)
    assert is_zero(answer)
    probe.show(views['start'])  # good images again: the node kept running and recovers
    assert servoing_normally(probe, time.monotonic()) is not None


def test_larger_camera_images_are_cropped_and_resized(servo, probe, views):
    """A 96x64 camera is centre-cropped to 64x64: the servo sees the same view."""
    node = servo(input_width=64, input_height=64)
    wide = default_camera(64)
    wide = type(wide)(96, 64, wide.fx, wide.fy, wide.cx + 16, wide.cy)
    scene = PlanarScene.load()
    probe.show(scene.render(wide, GOAL).image, camera=wide)
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    status = probe.wait_status(lambda s: s.iteration > 0 and s.state in (CONVERGED, SERVOING), time.monotonic())
    assert status is not None, status
    # the crop and the render differ by their resampling: a step of a few micrometres is left
    # (the twist over the gain; CONVERGED sends a zero twist)
    gain = node.get_parameter('gain').value
    linear, angular = status.velocity.linear, status.velocity.angular
    assert max(abs(linear.x), abs(linear.y), abs(linear.z)) / gain < 2e-5, status
    assert max(abs(angular.x), abs(angular.y), abs(angular.z)) / gain < 5e-5, status


# -- pause, parameters, newest frame -----------------------------------------------------------------

def test_pause_and_resume(servo, probe, views):
    servo()
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    assert servoing_normally(probe, time.monotonic()) is not None
    assert probe.pause(True).success
    paused = time.monotonic()
    time.sleep(0.3)
    assert probe.wait_status(lambda s: s.state == PAUSED, paused) is not None
    after = time.monotonic()
    assert wait_until(lambda: len(probe.since(probe.twists, after)) >= 3)
    assert all(is_zero(t) for t in probe.since(probe.twists, after))
    assert probe.pause(False).success
    assert servoing_normally(probe, time.monotonic()) is not None


def test_live_parameters_are_validated(servo):
    node = servo()
    assert node.set_parameters([Parameter('gain', value=3.0)])[0].successful
    assert node.get_parameter('gain').value == 3.0
    for parameter in [Parameter('gain', value=-1.0), Parameter('interaction', value='sideways'),
                      Parameter('method', value='pca'), Parameter('image_timeout', value=0.0),
                      Parameter('roll_aid', value=180.0), Parameter('tilt_damping', value=0.0)]:
        result = node.set_parameters([parameter])[0]
        assert not result.successful, parameter.name
        assert result.reason
    assert node.set_parameters([Parameter('interaction', value='desired')])[0].successful
    assert wait_until(lambda: node.loop.session.config.servo.interaction == 'desired')
    assert node.set_parameters([Parameter('roll_aid', value=30.0)])[0].successful
    assert wait_until(lambda: node.loop.session.config.servo.roll_aid == 30.0)


def test_only_the_newest_frame_is_processed(servo, probe, views):
    """A burst of frames while a step computes: the backlog is skipped, the last one is answered."""
    servo()
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    assert servoing_normally(probe, time.monotonic()) is not None
    probe.frame = None
    time.sleep(0.2)
    burst = []
    for _ in range(50):
        stamp = probe.node.get_clock().now().to_msg()
        burst.append(stamp)
        probe.image_pub.publish(gray_to_image_msg(views['start'], stamp, 'camera_optical_frame'))
    start = time.monotonic() - 1.0
    assert wait_until(lambda: any(t.header.stamp == burst[-1] for t in probe.since(probe.twists, start))), \
        'the newest frame was not answered'
    time.sleep(0.3)
    answered = [t for t in probe.since(probe.twists, start) if t.header.stamp in burst]
    assert len(answered) < len(burst) / 2, f'{len(answered)} of {len(burst)} frames of a burst answered'


# -- debug outputs, any feature family ---------------------------------------------------------------

@pytest.fixture(scope='module')
def tiny_aevs_model(tmp_path_factory):
    """An untrained, small autoencoder file for 64x64 images: enough to exercise the node."""
    pytest.importorskip('torch')
    from aevs_ros.core.network.config import AutoencoderConfig
    from aevs_ros.core.network.model import Autoencoder, save_model

    path = tmp_path_factory.mktemp('model') / 'tiny_aevs.pt'
    save_model(path, Autoencoder(AutoencoderConfig(input_size=64, latent_dim=8, stage_channels=(8, 16),
                                                   blocks_per_stage=1)), {'note': 'untrained, for tests'})
    return path


@pytest.mark.parametrize('method', ['dvs', 'dct', 'aevs'])
def test_debug_image_and_reconstruction_for_any_method(servo, probe, spun_node, views, method, request):
    parameters = {'method': method}
    if method == 'aevs':
        parameters['model_path'] = str(request.getfixturevalue('tiny_aevs_model'))
    servo(**parameters)
    images = {'servo/debug_image': [], 'servo/reconstruction': []}
    listener = spun_node('debug_listener')
    for topic, received in images.items():
        listener.create_subscription(Image, topic, received.append, qos_profile_sensor_data)
    probe.show(views['start'])
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    status = probe.wait_status(lambda s: s.iteration > 2, time.monotonic(), timeout=30.0)
    assert status is not None and status.state in (SERVOING, CONVERGED), status
    assert status.method == method and np.isfinite(status.feature_error_norm)
    assert wait_until(lambda: all(images.values())), {topic: len(msgs) for topic, msgs in images.items()}
    for received in images.values():
        assert (received[-1].width, received[-1].height) == (64, 64)
        assert received[-1].header.stamp in probe.sent


@pytest.fixture(scope='module')
def tiny_siame_model(tmp_path_factory):
    """An untrained, small Siame-se(3) file for 64x64 images: enough to exercise the node."""
    pytest.importorskip('torch')
    from aevs_ros.core.network.config import SiameConfig
    from aevs_ros.core.network.siame import SiamesePoseNetwork, save_siame_model

    path = tmp_path_factory.mktemp('model') / 'tiny_siame.pt'
    save_siame_model(path, SiamesePoseNetwork(SiameConfig(input_size=64, stage_channels=(8, 16), blocks_per_stage=1,
                                                          head_width=16)), {'note': 'untrained, for tests'})
    return path


def test_siame_servoes_on_the_pose_its_network_regresses(servo, probe, views, tiny_siame_model):
    """The goal image reaches the feature (bind_goal) through the node: s is relative to it."""
    servo(method='siame', model_path=str(tiny_siame_model))
    probe.show(views['start'])
    start = time.monotonic()
    assert probe.set_goal(gray_to_image_msg(views['goal'])).success
    status = probe.wait_status(lambda s: s.iteration > 2, start, timeout=30.0)
    assert status is not None and status.method == 'siame' and np.isfinite(status.feature_error_norm), status
    twists = [twist_vector(msg) for msg in probe.since(probe.twists, start)]
    assert twists and all(np.isfinite(twist).all() for twist in twists)
    assert any(np.any(twist) for twist in twists), 'the servo never moved'


def test_aevs_set_goal_fails_cleanly_without_a_servo(ros_domain_id):
    command = [sys.executable, '-c', 'import sys; from aevs_ros.cli import main; sys.exit(main())',
               'set-goal', '--timeout', '1']
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4 and 'not available' in result.stderr, result.stdout + result.stderr
