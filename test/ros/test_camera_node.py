"""camera_node over real DDS, fed by a short MJPG video the test writes.

Shows: frames stream with the right encoding, size and CameraInfo (from a calibration file
the test writes), image and info share their header; a file replays with `loop` and is
otherwise read once (no frame published twice); a missing device is retried with
exponential back-off, visible in the log, until the file appears.
"""
import os
import signal
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.nodes.camera_node import CameraNode, load_camera_info
from aevs_ros.nodes.image_conversions import image_to_array
from waiting import wait_until

TIMEOUT_S = 10.0
WIDTH, HEIGHT, FRAMES = 64, 48, 10
K = [80.0, 0.0, 31.5, 0.0, 82.0, 23.5, 0.0, 0.0, 1.0]


def write_video(path, frames=FRAMES):
    """An MJPG .avi whose frame i has mean grey level ~ 20 + 20 i; appears atomically."""
    partial = str(path) + '.partial.avi'
    writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (WIDTH, HEIGHT))
    assert writer.isOpened(), 'OpenCV cannot write MJPG video here'
    ramp = np.tile(np.linspace(0, 40, WIDTH, dtype=np.float32), (HEIGHT, 1))
    for i in range(frames):
        grey = np.clip(ramp + 20 * i, 0, 255).astype(np.uint8)
        writer.write(cv2.merge([grey, grey, grey]))
    writer.release()
    os.replace(partial, path)
    return str(path)


def write_calibration(path, width=WIDTH, height=HEIGHT):
    calibration = {
        'image_width': width, 'image_height': height, 'camera_name': 'test_camera',
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': K},
        'distortion_model': 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': [0.1, -0.05, 0.0, 0.0, 0.0]},
        'rectification_matrix': {'rows': 3, 'cols': 3, 'data': np.eye(3).ravel().tolist()},
        'projection_matrix': {'rows': 3, 'cols': 4,
                              'data': [80.0, 0, 31.5, 0, 0, 82.0, 23.5, 0, 0, 0, 1, 0]},
    }
    with open(path, 'w') as stream:
        yaml.safe_dump(calibration, stream)
    return str(path)


class Probe:
    def __init__(self, node):
        self.images, self.infos, self.lock = [], [], threading.Lock()
        node.create_subscription(Image, 'camera/image_raw', self._image, qos_profile_sensor_data)
        node.create_subscription(CameraInfo, 'camera/camera_info', self._info,
                                 qos_profile_sensor_data)

    def _image(self, msg):
        with self.lock:
            self.images.append(msg)

    def _info(self, msg):
        with self.lock:
            self.infos.append(msg)


def make_camera(ros_context, ros_executor, **parameters):
    node = CameraNode(context=ros_context,
                      parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()])
    ros_executor.add_node(node)
    return node


@pytest.mark.parametrize('encoding, channels', [('mono8', 1), ('bgr8', 3)])
def test_streams_a_video_file_with_camera_info(ros_context, ros_executor, spun_node, tmp_path,
                                               encoding, channels):
    probe = Probe(spun_node('probe'))
    video = write_video(tmp_path / 'scene.avi')
    calibration = write_calibration(tmp_path / 'calibration.yaml')
    camera = make_camera(ros_context, ros_executor, video_device=video, encoding=encoding,
                         camera_info_url='file://' + calibration, loop=True, framerate=60.0)
    assert wait_until(lambda: len(probe.images) >= 12 and len(probe.infos) >= 12)
    assert camera.frames > FRAMES  # replayed from the start
    with probe.lock:
        images, infos = list(probe.images), list(probe.infos)
    for image in images:
        assert (image.encoding, image.width, image.height) == (encoding, WIDTH, HEIGHT)
        assert image.step == WIDTH * channels and len(image.data) == WIDTH * HEIGHT * channels
        assert image.header.frame_id == 'camera_optical_frame'
    stamps = [(i.header.stamp.sec, i.header.stamp.nanosec) for i in images]
    assert stamps == sorted(set(stamps))  # every frame a new stamp
    info_by_stamp = {(i.header.stamp.sec, i.header.stamp.nanosec): i for i in infos}
    paired = [info_by_stamp[s] for s in stamps if s in info_by_stamp]
    assert len(paired) >= len(images) - 2  # best effort may drop one of a pair
    for info in paired:
        assert info.header.frame_id == 'camera_optical_frame'
        assert (info.width, info.height, info.distortion_model) == (WIDTH, HEIGHT, 'plumb_bob')
        np.testing.assert_allclose(info.k, K)
        np.testing.assert_allclose(info.d, [0.1, -0.05, 0.0, 0.0, 0.0])
        assert info.p[0] == 80.0 and info.p[6] == 23.5
    levels = [image_to_array(i).mean() for i in images[:FRAMES]]
    assert max(levels) - min(levels) > 50  # distinct frames of the video, not one repeated


def test_a_video_file_without_loop_is_read_once(ros_context, ros_executor, spun_node, tmp_path):
    probe = Probe(spun_node('probe'))
    video = write_video(tmp_path / 'scene.avi')
    camera = make_camera(ros_context, ros_executor, video_device=video, framerate=100.0)
    assert wait_until(lambda: not camera._thread.is_alive()), 'the grab thread did not end'
    time.sleep(0.2)
    assert camera.frames == FRAMES
    assert 0 < len(probe.images) <= FRAMES
    assert probe.infos[0].width == WIDTH and not any(probe.infos[0].k)  # uncalibrated: K = 0


def test_inconsistent_settings_are_refused(ros_context, tmp_path):
    calibration = write_calibration(tmp_path / 'calibration.yaml')
    with pytest.raises(ConfigurationError, match='differs from the calibrated'):
        CameraNode(context=ros_context, parameter_overrides=[
            Parameter('camera_info_url', value=calibration), Parameter('image_width', value=640),
            Parameter('image_height', value=480)])
    with pytest.raises(ValueError, match='encoding'):
        CameraNode(context=ros_context, parameter_overrides=[Parameter('encoding', value='yuv422')])
    with pytest.raises(ConfigurationError, match='cannot read the calibration'):
        load_camera_info(str(tmp_path / 'missing.yaml'))


def test_camera_info_urls():
    example = load_camera_info('package://aevs_ros/config/camera_info_example.yaml')
    assert (example['width'], example['height']) == (640, 480) and example['k'][0] == 600.0
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'config', 'camera_info_example.yaml')
    assert load_camera_info('file://' + os.path.abspath(path)) == example == load_camera_info(path)
    with pytest.raises(ConfigurationError, match='only file://'):
        load_camera_info('http://example.com/calibration.yaml')


def camera_command(extra_args):
    executable = shutil.which('camera_node')
    command = [executable] if executable else [sys.executable, '-m', 'aevs_ros.nodes.camera_node']
    return command + ['--ros-args'] + extra_args


@pytest.mark.slow
def test_missing_device_is_retried_with_back_off_until_it_appears(spun_node, tmp_path):
    probe = Probe(spun_node('probe'))
    video, log_path = tmp_path / 'later.avi', tmp_path / 'camera_node.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            camera_command(['-p', f'video_device:={video}', '-p', 'reconnect_initial_delay:=0.1',
                            '-p', 'reconnect_max_delay:=0.4', '-p', 'loop:=true']),
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        assert wait_until(lambda: 'retrying in 0.4 s' in log_path.read_text(), 20.0), \
            log_path.read_text()
        text = log_path.read_text()
        assert 'cannot open video_device' in text
        assert text.index('retrying in 0.1 s') < text.index('retrying in 0.2 s') \
            < text.index('retrying in 0.4 s')
        assert process.poll() is None and not probe.images
        write_video(video)
        assert wait_until(lambda: len(probe.images) >= 3), log_path.read_text()
        assert 'opened video_device' in log_path.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT_S)
