"""camera_node: a real camera (OpenCV VideoCapture) -> /camera/image_raw + /camera/camera_info.

``video_device`` is a device index ("0"), a device path (/dev/video0), a video file or a
network URL. A grab thread reads frames at ``framerate``; each successful read is published
as an Image and a CameraInfo with the same header (sensor-data QoS). A failed read
publishes nothing: the device is closed and reopened with exponential back-off
(``reconnect_initial_delay`` doubling up to ``reconnect_max_delay``), logging each attempt.
A video file ends at EOF, or replays from the start with ``loop``.

The intrinsics come from ``camera_info_url`` (file://, package:// or a plain path) in the
ROS camera_calibration YAML format; without one an uncalibrated CameraInfo (K = 0) goes out.
"""
from __future__ import annotations

import os
import sys
import threading
import time

import cv2
import numpy as np
import yaml
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from aevs_ros import share_dir
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.nodes import Param, declare, run
from aevs_ros.nodes.image_conversions import array_to_image_msg

ENCODINGS = ('mono8', 'bgr8')
PARAMETERS = tuple(Param(*spec, read_only=True, **bounds) for *spec, bounds in (
    ('video_device', '0', 'device index, /dev/videoN, video file or stream URL', {}),
    ('image_width', 0, 'published width [px]; 0 = calibration or native size', dict(low=0, high=16384)),
    ('image_height', 0, 'published height [px]; 0 = calibration or native size', dict(low=0, high=16384)),
    ('framerate', 30.0, 'frames read and published per second [Hz]', dict(low=0.1, high=1000.0)),
    ('frame_id', 'camera_optical_frame', 'header.frame_id of image and camera_info', {}),
    ('camera_info_url', '', 'calibration YAML: file://, package:// or a path; "" = none', {}),
    ('encoding', 'mono8', 'mono8 | bgr8', dict(choices=ENCODINGS)),
    ('loop', False, 'replay a video file from the start at its end', {}),
    ('reconnect_initial_delay', 0.5, 'first wait before reopening the device [s]',
     dict(low=0.01, high=60.0)),
    ('reconnect_max_delay', 8.0, 'longest wait between reopening attempts [s]',
     dict(low=0.01, high=600.0)),
))


def resolve_url(url: str) -> str:
    """The file path of a camera_info_url (file://, package://<pkg>/<path> or a plain path)."""
    if url.startswith('file://'):
        return url[len('file://'):]
    if url.startswith('package://'):
        package, _, relative = url[len('package://'):].partition('/')
        if package == 'aevs_ros':  # the checkout when run from source (see share_dir)
            return os.path.join(share_dir(), relative)
        try:
            from ament_index_python.packages import get_package_share_directory
            return os.path.join(get_package_share_directory(package), relative)
        except Exception as error:  # noqa: BLE001 - PackageNotFoundError or no ament index
            raise ConfigurationError(f'camera_info_url {url}: package {package!r} not found '
                                     f'({error})') from None
    if '://' in url:
        raise ConfigurationError(f'camera_info_url {url}: only file://, package:// and plain '
                                 'paths are supported')
    return os.path.expanduser(url)


def load_camera_info(url: str) -> dict:
    """CameraInfo fields from a ROS camera_calibration YAML file (ConfigurationError if bad)."""
    path = resolve_url(url)
    try:
        with open(path) as stream:
            calib = yaml.safe_load(stream)
        k = [float(x) for x in calib['camera_matrix']['data']]
        width, height = int(calib['image_width']), int(calib['image_height'])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f'cannot read the calibration {path}: '
                                 f'{type(error).__name__}: {error}') from None
    if len(k) != 9 or width <= 0 or height <= 0:
        raise ConfigurationError(f'{path}: camera_matrix needs 9 numbers and the image size must '
                                 'be positive')
    matrix = (calib.get('projection_matrix') or {}).get('data')
    p = matrix or [k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0]
    return {'width': width, 'height': height, 'k': k, 'p': [float(x) for x in p],
            'distortion_model': calib.get('distortion_model', 'plumb_bob'),
            'd': [float(x) for x in (calib.get('distortion_coefficients') or {}).get('data', [])],
            'r': [float(x) for x in (calib.get('rectification_matrix') or {}).get(
                'data', [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])],
            'camera_name': str(calib.get('camera_name', ''))}


class FrameSource:
    """OpenCV capture of ``device``; ROS-free. read() -> (frame or None, 'ok'|'eof'|'failed')."""

    def __init__(self, device: str, width: int = 0, height: int = 0, fps: float = 30.0):
        self.device, self.width, self.height, self.fps = device, width, height, fps
        self.capture, self.is_file = None, False

    def open(self) -> bool:
        self.release()
        target = int(self.device) if self.device.isdigit() else self.device
        self.is_file = isinstance(target, str) and os.path.isfile(target)
        if isinstance(target, str) and not self.is_file and '://' not in target \
                and not os.path.exists(target):
            return False  # a missing device node or a file that is not there (yet)
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            return False
        if not self.is_file:
            for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width),
                                (cv2.CAP_PROP_FRAME_HEIGHT, self.height), (cv2.CAP_PROP_FPS, self.fps)):
                if value:
                    capture.set(prop, value)
        self.capture = capture
        return True

    def read(self):
        ok, frame = self.capture.read()
        if ok and frame is not None and frame.size:
            return frame, 'ok'
        return None, 'eof' if self.is_file else 'failed'

    def rewind(self) -> bool:
        return bool(self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)) or self.open()

    def release(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class CameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__('camera_node', **kwargs)
        p = declare(self, PARAMETERS)
        self.info = CameraInfo()
        size = (p['image_width'], p['image_height'])
        if p['camera_info_url']:
            calib = load_camera_info(p['camera_info_url'])
            if size != (0, 0) and size != (calib['width'], calib['height']):
                raise ConfigurationError(f"image size {size[0]}x{size[1]} differs from the calibrated "
                                         f"{calib['width']}x{calib['height']} ({p['camera_info_url']})")
            size = (calib['width'], calib['height'])
            self.info = CameraInfo(width=size[0], height=size[1], k=calib['k'], d=calib['d'],
                                   r=calib['r'], p=calib['p'], distortion_model=calib['distortion_model'])
        else:
            self.get_logger().warning('no camera_info_url: publishing an uncalibrated CameraInfo (K = 0)')
        if (size[0] == 0) != (size[1] == 0):
            raise ConfigurationError('set both image_width and image_height, or neither')
        if p['reconnect_initial_delay'] > p['reconnect_max_delay']:
            raise ConfigurationError('reconnect_initial_delay must not exceed reconnect_max_delay')
        self.params, self.size = p, size if size != (0, 0) else None
        self.source = FrameSource(p['video_device'], size[0], size[1], p['framerate'])
        self.image_pub = self.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, 'camera/camera_info', qos_profile_sensor_data)
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab_loop, name='camera_grab', daemon=True)
        self._thread.start()

    def _grab_loop(self):
        log, delay, rewound = self.get_logger(), self.params['reconnect_initial_delay'], False
        period, deadline = 1.0 / self.params['framerate'], time.monotonic()
        while not self._stop.is_set():
            if self.source.capture is None:
                if not self.source.open():
                    log.warning(f"cannot open video_device {self.params['video_device']!r}; "
                                f'retrying in {delay:g} s')
                    self._stop.wait(delay)
                    delay = min(2 * delay, self.params['reconnect_max_delay'])
                    continue
                log.info(f"opened video_device {self.params['video_device']!r}")
                deadline = time.monotonic()
            frame, state = self.source.read()
            if state == 'eof' and self.params['loop'] and not rewound and self.source.rewind():
                rewound = True  # replay; a file that yields no frame after a rewind ends here
                continue
            if state == 'eof':
                log.info('end of the video file: no more frames (set loop to replay it)')
                self.source.release()
                return
            if state == 'failed':
                log.warning(f'reading a frame failed: reconnecting in {delay:g} s')
                self.source.release()
                self._stop.wait(delay)
                delay = min(2 * delay, self.params['reconnect_max_delay'])
                continue
            try:
                self._publish(frame)
            except Exception as error:  # noqa: BLE001 - the thread must survive a bad frame
                if not self.context.ok():  # shut down (Ctrl-C) under this thread
                    return
                log.error(f'dropped a frame: {error}', throttle_duration_sec=5.0)
            delay, rewound = self.params['reconnect_initial_delay'], False
            deadline = max(deadline + period, time.monotonic() - period)
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def _publish(self, frame: np.ndarray):
        if self.size is not None and frame.shape[1::-1] != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        if self.params['encoding'] == 'mono8' and frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        elif self.params['encoding'] == 'bgr8' and frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        image = array_to_image_msg(frame, self.get_clock().now().to_msg(), self.params['frame_id'],
                                   self.params['encoding'])
        self.info.header = image.header
        if not self.info.width:
            self.info.width, self.info.height = image.width, image.height
        self.image_pub.publish(image)
        self.info_pub.publish(self.info)
        self.frames += 1

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.source.release()
        return super().destroy_node()


def main(args=None):
    return run(CameraNode, args, num_threads=1)


if __name__ == '__main__':
    sys.exit(main())
