"""servo_node: the visual servo of the core (core.servo.Servo) on ROS topics, services, an action.

Each camera image -> grey float image adapted to the feature's input size -> ``Servo.step`` ->
``/servo/twist`` (camera optical frame, stamped with the image's stamp) and ``/servo/status``.
Only the newest image is processed: the image subscription keeps one message and runs in its
own mutually exclusive callback group, so services, the action and the stale-camera watchdog
stay responsive while a step computes. Every fault (unusable image, stale camera, diverging
servo) publishes a zero twist and says why in the status; the node recovers when good images
come back.
"""
from __future__ import annotations

import threading
import time
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
from aevs_msgs.action import ServoToImage
from aevs_msgs.msg import ServoStatus
from aevs_msgs.srv import SetGoalImage
from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool

from ..core.camera import DEFAULT_FOCAL_PER_WIDTH, PinholeCamera
from ..core.control import InteractionChoice
from ..core.errors import AevsError, InvalidImageError, ModelError
from ..core.features.base import FEATURE_FAMILIES, Feature, make_feature
from ..core.servo import Servo, ServoCommand, ServoConfig, ServoState
from ..resources import default_model_path
from . import Param, check_choice, declare, run
from .image_conversions import gray_to_image_msg, image_to_gray

_CONFIG = ServoConfig()
PARAMETERS = (
    Param('method', 'dvs', 'feature family', read_only=True, choices=FEATURE_FAMILIES),
    Param('model_path', '', 'model file of pca/aevs; empty = the shipped models/<method>_default.*',
          read_only=True),
    Param('feature_dim', 0, "features of pca/dct; 0 = the family's default", read_only=True, low=0, high=10**6),
    Param('input_width', 0, "image width the features use [px]; 0 = the model's, else the camera's",
          read_only=True, low=0, high=8192),
    Param('input_height', 0, 'image height the features use [px]; 0 as input_width', read_only=True,
          low=0, high=8192),
    Param('depth', 0.6, 'scene depth of the interaction matrix [m]', read_only=True, low=1e-3, high=1e3),
    Param('camera_fallback', [0.0, 0.0, 0.0, 0.0], '[fx, fy, cx, cy] in pixels of the camera images, used '
          'until camera_info arrives; zeros = fx = fy = 1.40625 width, centred', read_only=True),
    Param('gain', _CONFIG.gain, 'control gain lambda [1/s]', low=1e-9, high=1e4),
    Param('mu', _CONFIG.mu, 'Levenberg-Marquardt damping [-]', low=0.0, high=1e9),
    Param('mu_final', _CONFIG.mu_final, 'Levenberg-Marquardt damping from step mu_switch_iteration on [-]',
          low=0.0, high=1e9),
    Param('mu_switch_iteration', _CONFIG.mu_switch_iteration,
          'step at which mu becomes mu_final; 0 = keep mu', low=0, high=10**9),
    Param('interaction', _CONFIG.interaction.value, 'interaction matrix of the control law',
          choices=tuple(choice.value for choice in InteractionChoice)),
    Param('max_linear_velocity', _CONFIG.max_linear_velocity, 'twist limit, linear [m/s]', low=1e-9, high=1e3),
    Param('max_angular_velocity', _CONFIG.max_angular_velocity, 'twist limit, angular [rad/s]', low=1e-9,
          high=1e3),
    Param('convergence_translation', _CONFIG.convergence_translation,
          'CONVERGED when the step still asked for, |v|/gain, is below this [m] ...', low=1e-12, high=1.0),
    Param('convergence_rotation', _CONFIG.convergence_rotation, '... and below this [rad]', low=1e-12, high=1.0),
    Param('disturbance_factor', _CONFIG.disturbance_factor,
          'leave CONVERGED when the asked-for step exceeds the thresholds this many times [-]', low=1.0, high=1e9),
    Param('divergence_steps', _CONFIG.divergence_steps,
          'FAULT when the feature error grew this many steps in a row; 0 = never', low=0, high=10**9),
    Param('compute_threads', 0, 'CPU threads of the feature computation (torch); 0 = the library default. '
          'On a small CPU, 1 leaves a core to the camera and robot nodes', read_only=True, low=0, high=256),
    Param('image_timeout', 0.5, 'FAULT (zero twist) when no camera image arrived for this long [s]',
          low=1e-3, high=3600.0),
    Param('publish_debug_images', True, 'publish servo/debug_image and servo/reconstruction to subscribers'),
)
STRUCTURAL = {param.name for param in PARAMETERS if param.read_only}
HEARTBEAT_S = 1.0  # status period while no image drives the loop


def servo_config(values: dict) -> ServoConfig:
    """The core's ServoConfig from parameter values (raises ConfigurationError if inconsistent)."""
    return ServoConfig(**{f.name: values[f.name] for f in fields(ServoConfig)})


def fit_image(image: np.ndarray, camera: PinholeCamera, shape,
              what: str = 'camera image') -> tuple[np.ndarray, PinholeCamera]:
    """Centre-crop ``image`` to the aspect ratio of ``shape`` (h, w), then resize it to ``shape``.

    Returns the image and its camera; raises InvalidImageError if the image is smaller.
    """
    height, width = shape
    if image.shape == (height, width):
        return image, camera
    rows, cols = image.shape
    if rows < height or cols < width:
        raise InvalidImageError(f'{what} {cols}x{rows} is smaller than the servo input {width}x{height}: '
                                'cannot adapt it (set input_width/input_height, or use another camera mode)')
    crop_w, crop_h = min(cols, round(rows * width / height)), min(rows, round(cols * height / width))
    left, top = (cols - crop_w) // 2, (rows - crop_h) // 2
    image = image[top:top + crop_h, left:left + crop_w]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return resized, camera.center_crop(crop_w, crop_h).scaled(width, height)


class ServoNode(Node):
    def __init__(self, **kwargs):
        super().__init__('servo_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.config = servo_config(self.params)
        self.model_path = self.params['model_path'] or default_model_path(self.params['method'])
        if self.params['method'] in ('pca', 'aevs'):
            if self.model_path is None or not Path(self.model_path).expanduser().is_file():
                raise ModelError(f"method {self.params['method']} needs a model file: model_path "
                                 f"{self.params['model_path'] or '(the shipped default)'} does not exist")
        if self.params['compute_threads'] and self.params['method'] == 'aevs':
            import torch

            torch.set_num_threads(self.params['compute_threads'])
        self.input_shape = self._model_input_shape()
        self.lock = threading.RLock()  # guards servo, camera and the latest frame
        self.servo: Servo | None = None
        self.paused = False
        self.info_camera = None  # from the latest camera_info
        self.frame = None  # (adapted image, header) of the latest good camera image
        self.last_image_time = None  # monotonic receive time
        self.last_command = ServoCommand(np.zeros(6), ServoState.IDLE, 0, reason='waiting for camera images')
        self.last_publish = 0.0
        self.stale = False
        self.action_token = None
        self.stopping = threading.Event()
        self.changed = threading.Condition()
        control, watchdog, action = (MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup(),
                                     ReentrantCallbackGroup())
        latest = QoSProfile(depth=1, reliability=qos_profile_sensor_data.reliability,
                            durability=qos_profile_sensor_data.durability)
        self.create_subscription(Image, 'camera/image_raw', self.on_image, latest, callback_group=control)
        self.create_subscription(CameraInfo, 'camera/camera_info', self.on_camera_info, qos_profile_sensor_data)
        self.twist_pub = self.create_publisher(TwistStamped, 'servo/twist', 1)
        self.status_pub = self.create_publisher(ServoStatus, 'servo/status', 10)
        self.debug_pub = self.create_publisher(Image, 'servo/debug_image', qos_profile_sensor_data)
        self.reconstruction_pub = self.create_publisher(Image, 'servo/reconstruction', qos_profile_sensor_data)
        self.create_service(SetGoalImage, 'set_goal_image', self.on_set_goal)
        self.create_service(SetBool, 'servo/pause', self.on_pause)
        self.action_server = ActionServer(
            self, ServoToImage, 'servo_to_image', self.execute_action, callback_group=action,
            goal_callback=lambda _: GoalResponse.ACCEPT, cancel_callback=lambda _: CancelResponse.ACCEPT)
        self.create_timer(0.05, self.watchdog, callback_group=watchdog)
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.get_logger().info(f"servo_node ready: method {self.params['method']}, gain {self.config.gain}")

    # -- camera images ---------------------------------------------------------------------------
    def on_camera_info(self, msg: CameraInfo):
        try:
            info = {'k': msg.k, 'width': msg.width, 'height': msg.height}
            self.info_camera = PinholeCamera.from_camera_info(info)
        except AevsError as exc:
            self.get_logger().warning(f'ignoring camera_info: {exc}', throttle_duration_sec=5.0)

    def on_image(self, msg: Image):
        self.last_image_time, self.stale = time.monotonic(), False
        with self.lock:
            try:
                image = self.adapt(image_to_gray(msg))
                self.frame = (image, msg.header)
                command = self.ensure_servo().step(image)
            except AevsError as exc:
                command = self.fault(str(exc))
            self.publish(command, msg.header)
        if command.state is not ServoState.FAULT and self.params['publish_debug_images']:
            self.publish_debug(image, msg.header)

    def camera_for(self, shape, what: str) -> PinholeCamera:
        """Intrinsics of an image of ``shape``: camera_info's, else the camera_fallback parameter."""
        info = self.info_camera
        if info is not None:
            if info.shape != shape:
                raise InvalidImageError(f'{what} is {shape[1]}x{shape[0]} but camera_info says '
                                        f'{info.width}x{info.height}')
            return info
        fx, fy, cx, cy = self.params['camera_fallback']
        if fx > 0 and fy > 0:
            return PinholeCamera(shape[1], shape[0], fx, fy, cx, cy)
        focal = DEFAULT_FOCAL_PER_WIDTH * shape[1]
        return PinholeCamera(shape[1], shape[0], focal, focal, (shape[1] - 1) / 2, (shape[0] - 1) / 2)

    def adapt(self, image: np.ndarray, what: str = 'camera image') -> np.ndarray:
        """The camera image at the feature's input size; (re)builds the feature for its camera."""
        if not np.isfinite(image).all():
            raise InvalidImageError(f'{what} holds NaN or infinite values')
        if self.input_shape is None:
            self.input_shape = image.shape
        image, camera = fit_image(image, self.camera_for(image.shape, what), self.input_shape, what)
        if self.servo is None or self.servo.feature.camera != camera:
            self.build_servo(camera)
        return image

    def build_servo(self, camera: PinholeCamera):
        old, dim = self.servo, self.params['feature_dim']
        feature = make_feature(self.params['method'], camera, self.params['depth'], model_path=self.model_path,
                               **({'dim': dim} if dim else {}))
        self.servo = Servo(feature, self.config)
        self.get_logger().info(f'{feature.name}: {feature.dim} features of {camera.width}x{camera.height} images '
                               f'(fx {camera.fx:.1f}, fy {camera.fy:.1f}, cx {camera.cx:.1f}, cy {camera.cy:.1f})')
        if old is not None and old.goal_image is not None:  # the camera changed: keep the goal
            self.servo.set_goal(old.goal_image)
        self.servo.pause(self.paused)

    def ensure_servo(self) -> Servo:
        if self.servo is None:
            raise AevsError('no camera image yet: the servo does not know its camera')
        return self.servo

    def fault(self, reason: str) -> ServoCommand:
        self.get_logger().warning(f'FAULT: {reason}', throttle_duration_sec=2.0)
        if self.servo is None:
            return ServoCommand(np.zeros(6), ServoState.FAULT, 0, reason=reason)
        command = self.servo.fault(reason)
        self.servo.pause(self.paused)  # a fault never un-pauses
        return command

    # -- outputs ---------------------------------------------------------------------------------
    def publish(self, command: ServoCommand, header):
        """Twist and status of one step (call with the lock held)."""
        velocity = _twist(command.velocity)
        self.twist_pub.publish(TwistStamped(header=header, twist=velocity))
        self.status_pub.publish(ServoStatus(
            header=header, method=self.params['method'], iteration=command.iteration,
            feature_error_norm=float(command.error_norm), velocity=velocity, state=int(command.state),
            state_name=command.state.name, reason=command.reason))
        self.last_publish = time.monotonic()
        with self.changed:
            self.last_command = command
            self.changed.notify_all()

    def publish_now(self, command: ServoCommand):
        """Twist and status stamped now, outside the image loop (faults, goal, pause)."""
        frame_id = self.frame[1].frame_id if self.frame else 'camera_optical_frame'
        self.publish(command, Header(stamp=self.get_clock().now().to_msg(), frame_id=frame_id))

    def publish_debug(self, image: np.ndarray, header):
        servo = self.servo
        if servo is None or servo.goal_image is None:
            return
        if self.debug_pub.get_subscription_count():
            difference = np.clip(0.5 + 0.5 * (image - servo.goal_image), 0.0, 1.0)
            self.debug_pub.publish(gray_to_image_msg(difference, header.stamp, header.frame_id))
        if self.reconstruction_pub.get_subscription_count() and _can_reconstruct(servo.feature):
            features = servo.feature.compute(image, with_interaction=False).s
            reconstruction = np.clip(servo.feature.reconstruct(features), 0.0, 1.0)
            self.reconstruction_pub.publish(gray_to_image_msg(reconstruction, header.stamp, header.frame_id))

    def watchdog(self):
        """Stale camera -> FAULT and zero twist; a status heartbeat while no image drives the loop."""
        now = time.monotonic()
        with self.lock:
            if self.last_image_time is not None and now - self.last_image_time > self.params['image_timeout']:
                if not self.stale or now - self.last_publish > HEARTBEAT_S:
                    self.stale = True
                    age = now - self.last_image_time
                    self.publish_now(self.fault(f'stale camera: no image for {age:.2f} s '
                                                f"(image_timeout {self.params['image_timeout']} s)"))
            elif now - self.last_publish > HEARTBEAT_S:
                state = self.servo.state if self.servo else ServoState.IDLE
                reason = 'waiting for camera images' if self.last_image_time is None else ''
                self.publish_now(ServoCommand(np.zeros(6), state, self.last_command.iteration, reason=reason))

    # -- goal, pause, action -----------------------------------------------------------------------
    def set_goal(self, msg: Image) -> tuple[bool, str]:
        """Goal from an image message; an empty one means the current camera frame."""
        with self.lock:
            try:
                if msg.height == 0 or len(msg.data) == 0:
                    if self.frame is None or self.stale:
                        return False, 'no current camera frame to use as the goal (no image received, or stale)'
                    image = self.frame[0]
                else:  # at the servo's input size already, or a camera image to adapt
                    image = image_to_gray(msg)
                    if self.servo is None or image.shape != self.servo.feature.camera.shape:
                        image = self.adapt(image, 'goal image')
                self.ensure_servo().set_goal(image)
            except AevsError as exc:
                return False, f'goal refused: {exc}'
            self.servo.pause(self.paused)
            self.action_token = None  # a new goal ends a running action
            self.publish_now(ServoCommand(np.zeros(6), self.servo.state, 0, reason='new goal image'))
        return True, 'goal set' + (' (paused: resume with servo/pause false)' if self.paused else '')

    def on_set_goal(self, request, response):
        response.success, response.message = self.set_goal(request.image)
        self.get_logger().info(f'set_goal_image: {response.message}')
        return response

    def on_pause(self, request, response):
        with self.lock:
            self.paused = bool(request.data)
            if self.servo is not None:
                self.servo.pause(self.paused)
            state = self.servo.state if self.servo else (ServoState.PAUSED if self.paused else ServoState.IDLE)
            self.publish_now(ServoCommand(np.zeros(6), state, self.last_command.iteration,
                                          reason='paused' if self.paused else 'resumed'))
        response.success, response.message = True, 'paused' if self.paused else 'resumed'
        return response

    def stop_servo(self, reason: str):
        """Forget the goal (IDLE, zero twist), keeping the feature."""
        with self.lock:
            if self.servo is not None:
                self.servo = Servo(self.servo.feature, self.config)
                self.servo.pause(self.paused)
            self.publish_now(ServoCommand(np.zeros(6), ServoState.IDLE, 0, reason=reason))

    def execute_action(self, goal_handle):
        ok, message = self.set_goal(goal_handle.request.image)
        if not ok:
            goal_handle.abort()
            return ServoToImage.Result(converged=False, reason=message)
        token = self.action_token = object()
        reported = None
        while True:
            with self.changed:
                self.changed.wait(0.1)
                command = self.last_command
            if goal_handle.is_cancel_requested or self.stopping.is_set():
                self.stop_servo('servo_to_image cancelled')
                goal_handle.canceled()
                return _result(command, 'cancelled')
            if self.action_token is not token:
                goal_handle.abort()
                return _result(command, 'goal replaced by a newer one')
            if (command.iteration, command.state) != reported:
                reported = command.iteration, command.state
                goal_handle.publish_feedback(ServoToImage.Feedback(
                    state=int(command.state), state_name=command.state.name, iteration=command.iteration,
                    feature_error_norm=float(command.error_norm), velocity=_twist(command.velocity)))
            if command.state is ServoState.CONVERGED:
                goal_handle.succeed()
                return _result(command, 'converged', converged=True)
            if command.state is ServoState.FAULT:
                self.stop_servo(f'servo_to_image aborted: {command.reason}')
                goal_handle.abort()
                return _result(command, f'fault: {command.reason}')

    def stop(self):
        """End running actions (called before the executor shuts down)."""
        self.stopping.set()

    # -- parameters --------------------------------------------------------------------------------
    def on_set_parameters(self, parameters) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name not in STRUCTURAL}
        try:
            for param in PARAMETERS:
                if param.name in changes:
                    check_choice(param, changes[param.name])
            config = servo_config({**self.params, **changes})
        except (AevsError, ValueError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self.lock:
            self.params.update(changes)
            self.config = config
            if self.servo is not None:
                self.servo.reconfigure(config)
        return SetParametersResult(successful=True)

    def _model_input_shape(self):
        """(h, w) from input_width/height, else the model's input size, else None (the camera's)."""
        if self.params['input_width'] and self.params['input_height']:
            return self.params['input_height'], self.params['input_width']
        if self.params['method'] == 'aevs' and self.model_path is not None:
            from ..core.features.autoencoder import model_input_size  # also: torch imported at start
            size = model_input_size(self.model_path)
            return (size, size) if size else None
        if self.params['method'] == 'pca' and self.model_path is not None:
            try:
                with np.load(self.model_path) as archive:
                    return tuple(int(n) for n in archive['image_size'])
            except (OSError, KeyError, ValueError):
                return None  # make_feature reports the unusable file
        return None


def _twist(velocity) -> Twist:
    twist = Twist()
    (twist.linear.x, twist.linear.y, twist.linear.z,
     twist.angular.x, twist.angular.y, twist.angular.z) = (float(v) for v in velocity)
    return twist


def _result(command: ServoCommand, reason: str, converged: bool = False) -> ServoToImage.Result:
    return ServoToImage.Result(converged=converged, iterations=command.iteration,
                               final_feature_error=float(command.error_norm), reason=reason)


def _can_reconstruct(feature: Feature) -> bool:
    return type(feature).reconstruct is not Feature.reconstruct


def main(args=None) -> int:
    return run(ServoNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
