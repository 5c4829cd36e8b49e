"""servo_node: the visual servo of the core on ROS topics, services and an action.

A thin adapter around core.servo_loop.ServoLoop, which owns the servo on its own thread: the
image callback only puts the newest frame in the loop's one-slot mailbox; goals, pause and
parameter changes are queued to the loop and answered through futures. Each step publishes
``/servo/twist`` (camera optical frame, stamped with the image's stamp) and ``/servo/status``.
Every fault (unusable image or goal, stale camera, a step overrunning ``step_timeout``,
diverging servo) publishes a zero twist and says why in the status; the node recovers when
good images come back.
"""
from __future__ import annotations

import os

# Before torch loads (aevs): idle OpenMP workers sleep instead of spinning, so a torch thread
# pool cannot starve this process's ROS threads or the other nodes of their cores.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import threading  # noqa: E402
from dataclasses import fields  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from aevs_msgs.action import ServoToImage  # noqa: E402
from aevs_msgs.msg import ServoStatus  # noqa: E402
from aevs_msgs.srv import SetGoalImage  # noqa: E402
from geometry_msgs.msg import TwistStamped  # noqa: E402
from rcl_interfaces.msg import SetParametersResult  # noqa: E402
import rclpy  # noqa: E402
from rclpy.action import ActionServer, CancelResponse, GoalResponse  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from ..core.camera import DEFAULT_FOCAL_PER_WIDTH  # noqa: E402
from ..core.control import InteractionChoice  # noqa: E402
from ..core.errors import AevsError  # noqa: E402
from ..core.image_normalization import Normalization  # noqa: E402
from ..core.features.base import Feature  # noqa: E402
from ..core.features.registry import FEATURE_FAMILIES, LEARNED_FAMILIES, family  # noqa: E402
from ..core.servo import ServoCommand, ServoConfig, ServoState  # noqa: E402
from ..core.servo_loop import LoopTimings, ServoLoop  # noqa: E402
from ..core.servo_session import ServoSession, SessionConfig  # noqa: E402
from ..resources import ModelChoice, choose_model  # noqa: E402
from . import JOIN_TIMEOUT_S, Param, check_choice, declare, run, stop_executor  # noqa: E402
from .image_conversions import camera_from_info, gray_to_image_msg, image_to_gray  # noqa: E402
from .msg_conversions import array_to_twist  # noqa: E402

_CONFIG = ServoConfig()
PARAMETERS = (
    Param('method', 'dvs', 'feature family', read_only=True, choices=FEATURE_FAMILIES),
    Param('model_path', '', f"model file of {'/'.join(LEARNED_FAMILIES)}; empty = the shipped one for a "
          "scene it cannot know (resources.choose_model: the general model; the sim graph names the model)",
          read_only=True),
    Param('feature_dim', 0, "features of pca/dct; 0 = the family's default", read_only=True, low=0, high=10**6),
    Param('input_width', 0, "image width the features use [px]; 0 = the model's, else the camera's",
          read_only=True, low=0, high=8192),
    Param('input_height', 0, 'image height the features use [px]; 0 as input_width', read_only=True,
          low=0, high=8192),
    Param('depth', 0.6, 'scene depth of the interaction matrix [m]', read_only=True, low=1e-3, high=1e3),
    Param('camera_fallback', [0.0, 0.0, 0.0, 0.0], '[fx, fy, cx, cy] in pixels of the camera images, used '
          'until camera_info arrives; zeros = core.camera.default_camera '
          f'(fx = fy = {DEFAULT_FOCAL_PER_WIDTH:g} width, centred)', read_only=True),
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
    Param('roll_aid', _CONFIG.roll_aid, 'start a goal by turning about the optical axis when the view is rolled '
          'from it by more than this, then the law; 0 = off; from the next goal [deg]', low=0.0, high=179.9),
    Param('tilt_damping', _CONFIG.tilt_damping, 'mu is multiplied by this on the tilt rates wx, wy; 1 = the '
          "paper's law [-]", low=1e-6, high=1e9),
    Param('coarse_blur', _CONFIG.coarse_blur, 'start a goal on images blurred by a Gaussian of this sigma, '
          'then on the images; 0 = off; from the next goal [px]', low=0.0, high=1e3),
    Param('normalization', _CONFIG.normalization.value, "match each image's intensities to the goal image's "
          'before the features (a light or exposure that changed), against a goal clipped where the image is',
          choices=tuple(n.value for n in Normalization)),
    Param('robust', _CONFIG.robust, 'dvs: Tukey M-estimator weights on the pixel errors (occluders, highlights)'),
    Param('static_occlusion', _CONFIG.static_occlusion, 'give the pixels that stayed put while the camera moved '
          "(something fixed to the camera in front of the scene) the goal image's values"),
    Param('goal_noise_samples', _CONFIG.goal_noise_samples, "encode the goal with the views' estimated pixel "
          'noise, as the mean features of this many noisy copies (aevs: the encoder answers noise with a bias); '
          '0 = off', low=0, high=1000),
    Param('compute_threads', 0, 'CPU threads of the feature computation (torch); 0 = the library default. '
          'On a small CPU, 1 leaves a core to the camera and robot nodes', read_only=True, low=0, high=256),
    Param('image_timeout', 0.5, 'FAULT (zero twist) when no camera image arrived for this long [s]',
          low=1e-3, high=3600.0),
    Param('step_timeout', 0.5, 'zero twist and FAULT when one servo step runs longer than this; its twist '
          'is dropped [s]', low=1e-3, high=3600.0),
    Param('publish_debug_images', True, 'publish servo/debug_image and servo/reconstruction to subscribers'),
    Param('debug_image_rate', 2.0, 'at most this many debug and reconstruction images per second [Hz]',
          low=0.01, high=1000.0),
)
STRUCTURAL = {param.name for param in PARAMETERS if param.read_only}
#: how long a service or the action waits for the servo loop to take a request [s]
ANSWER_TIMEOUT_S = 5.0


def servo_config(values: dict) -> ServoConfig:
    """The core's ServoConfig from parameter values (raises ConfigurationError if inconsistent)."""
    return ServoConfig(**{f.name: values[f.name] for f in fields(ServoConfig)})


def loop_timings(values: dict) -> LoopTimings:
    return LoopTimings(image_timeout=values['image_timeout'], step_timeout=values['step_timeout'],
                       debug_period=1.0 / values['debug_image_rate'] if values['publish_debug_images'] else 0.0)


def model_choice(values: dict) -> ModelChoice:
    """The model file the parameters name, or the shipped one for a scene the node cannot know."""
    if values['model_path']:
        return ModelChoice(Path(values['model_path']), 'given (model_path)')
    return choose_model(values['method'], None)


def session_config(values: dict, model_path: Path | None) -> SessionConfig:
    width, height = values['input_width'], values['input_height'] or values['input_width']
    return SessionConfig(
        method=values['method'],
        model_path=model_path,
        depth=values['depth'], feature_dim=values['feature_dim'],
        input_shape=(height, width) if width else None,
        camera_fallback=tuple(values['camera_fallback']), servo=servo_config(values))


class ServoNode(Node):
    def __init__(self, **kwargs):
        super().__init__('servo_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        if self.params['compute_threads'] and family(self.params['method']).uses_torch:
            import torch

            torch.set_num_threads(self.params['compute_threads'])
        model = model_choice(self.params)
        session = ServoSession(session_config(self.params, model.path), log=self.get_logger().info)  # loads it
        self.frame_id = 'camera_optical_frame'  # of the latest image, for messages outside a step
        self.goal_generation = 0  # counts goals: an action ends when a newer goal replaces its own
        self.stopping = threading.Event()
        group = ReentrantCallbackGroup()  # every callback is short and thread-safe
        latest = QoSProfile(depth=1, reliability=qos_profile_sensor_data.reliability,
                            durability=qos_profile_sensor_data.durability)
        self.twist_pub = self.create_publisher(TwistStamped, 'servo/twist', 1)
        self.status_pub = self.create_publisher(ServoStatus, 'servo/status', 10)
        self.debug_pub = self.create_publisher(Image, 'servo/debug_image', qos_profile_sensor_data)
        self.reconstruction_pub = self.create_publisher(Image, 'servo/reconstruction', qos_profile_sensor_data)
        self.loop = ServoLoop(session, image_to_gray, self.publish, self.publish_debug, loop_timings(self.params),
                              log=self.get_logger().error)
        self.create_subscription(Image, 'camera/image_raw', self.on_image, latest, callback_group=group)
        self.create_subscription(CameraInfo, 'camera/camera_info', self.on_camera_info, qos_profile_sensor_data,
                                 callback_group=group)
        self.create_service(SetGoalImage, 'set_goal_image', self.on_set_goal, callback_group=group)
        self.create_service(SetBool, 'servo/pause', self.on_pause, callback_group=group)
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.action_node, self.action_executor, self.action_thread = self._start_action_server()
        self.loop.start()
        uses = f", model {model.reason}" if family(self.params['method']).needs_model else ''
        self.get_logger().info(f"servo_node ready: method {self.params['method']}, gain {self.params['gain']}{uses}")

    # -- inputs: hand the loop its work ------------------------------------------------------------
    def on_image(self, msg: Image):
        self.frame_id = msg.header.frame_id or self.frame_id
        self.loop.put_frame(msg)

    def on_camera_info(self, msg: CameraInfo):
        try:
            self.loop.set_camera_info(camera_from_info(msg))
        except AevsError as exc:
            self.get_logger().warning(f'ignoring camera_info: {exc}', throttle_duration_sec=5.0)

    def set_goal(self, image: Image, info: CameraInfo) -> str:
        """Goal from an image (empty = the current frame) and its camera_info (empty = ours).

        Returns the confirmation; raises AevsError or TimeoutError with the refusal.
        """
        current = image.height == 0 or len(image.data) == 0
        gray = None if current else image_to_gray(image)
        camera = camera_from_info(info) if info.width else None

        def make_goal(session: ServoSession) -> ServoCommand:
            if current and self.loop.camera_is_stale:
                raise AevsError('no current camera frame to use as the goal (no image received, or stale)')
            command = session.set_goal(gray, camera)
            self.goal_generation += 1
            return command

        self.loop.call(make_goal, ANSWER_TIMEOUT_S)
        paused = self.loop.session.paused
        return 'goal set' + (' (paused: resume with servo/pause false)' if paused else '')

    def on_set_goal(self, request, response):
        try:
            response.success, response.message = True, self.set_goal(request.image, request.camera_info)
        except (AevsError, TimeoutError) as exc:
            response.success, response.message = False, f'goal refused: {exc}'
        self.get_logger().info(f'set_goal_image: {response.message}')
        return response

    def on_pause(self, request, response):
        paused = bool(request.data)
        try:
            self.loop.call(lambda session: session.pause(paused), ANSWER_TIMEOUT_S)
            response.success, response.message = True, 'paused' if paused else 'resumed'
        except TimeoutError as exc:
            response.success, response.message = False, str(exc)
        return response

    def on_set_parameters(self, parameters) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name not in STRUCTURAL}
        try:
            for param in PARAMETERS:
                if param.name in changes:
                    check_choice(param, changes[param.name])
            values = {**self.params, **changes}
            config, timings = servo_config(values), loop_timings(values)
        except (AevsError, ValueError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.params.update(changes)
        self.loop.set_timings(timings)
        self.loop.submit(lambda session: session.reconfigure(config))  # applied before the next step
        return SetParametersResult(successful=True)

    # -- the action --------------------------------------------------------------------------------
    def _start_action_server(self):
        """/servo_to_image on a companion node with executor threads of its own.

        An action's execute callback blocks until the servo ends, which would stall the
        single-threaded executor that runs this node's other callbacks (README: "Executors").
        The companion ignores the command line's remappings and parameters, which belong to
        this node, and lives in its namespace.
        """
        node = rclpy.create_node(f'{self.get_name()}_action', namespace=self.get_namespace(), context=self.context,
                                 use_global_arguments=False, start_parameter_services=False)
        ActionServer(node, ServoToImage, 'servo_to_image', self.execute_action,
                     callback_group=ReentrantCallbackGroup(), goal_callback=lambda _: GoalResponse.ACCEPT,
                     cancel_callback=lambda _: CancelResponse.ACCEPT)
        executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, name='servo_action', daemon=True)
        thread.start()
        return node, executor, thread

    def execute_action(self, goal_handle):
        seen, _ = self.loop.wait_published(-1, 0.0)
        try:
            self.set_goal(goal_handle.request.image, goal_handle.request.camera_info)
        except (AevsError, TimeoutError) as exc:
            goal_handle.abort()
            return ServoToImage.Result(converged=False, reason=f'goal refused: {exc}')
        generation, reported = self.goal_generation, None
        while True:
            seen, command = self.loop.wait_published(seen, 0.1)
            if goal_handle.is_cancel_requested or self.stopping.is_set():
                self.loop.submit(lambda session: session.stop('servo_to_image cancelled'))
                goal_handle.canceled()
                return _result(command, 'cancelled')
            if self.goal_generation != generation:
                goal_handle.abort()
                return _result(command, 'goal replaced by a newer one')
            if (command.iteration, command.state) != reported:
                reported = command.iteration, command.state
                goal_handle.publish_feedback(ServoToImage.Feedback(
                    state=int(command.state), state_name=command.state.name, iteration=command.iteration,
                    feature_error_norm=float(command.error_norm), velocity=array_to_twist(command.velocity)))
            if command.state is ServoState.CONVERGED:
                goal_handle.succeed()
                return _result(command, 'converged', converged=True)
            if command.state is ServoState.FAULT:
                reason = command.reason
                self.loop.submit(lambda session: session.stop(f'servo_to_image aborted: {reason}'))
                goal_handle.abort()
                return _result(command, f'fault: {reason}')

    # -- outputs (called on the loop and guard threads) ----------------------------------------------
    def publish(self, command: ServoCommand, image: Image | None):
        """Twist and status of one command, stamped with the image it answers (else now)."""
        header = image.header if image is not None else Header(
            stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        velocity = array_to_twist(command.velocity)
        self.twist_pub.publish(TwistStamped(header=header, twist=velocity))
        self.status_pub.publish(ServoStatus(
            header=header, method=self.params['method'], iteration=command.iteration,
            feature_error_norm=float(command.error_norm), velocity=velocity, state=int(command.state),
            state_name=command.state.name, reason=command.reason))
        if command.state is ServoState.FAULT:
            self.get_logger().warning(f'FAULT: {command.reason}', throttle_duration_sec=2.0)

    def publish_debug(self, command: ServoCommand, image: np.ndarray, session: ServoSession, frame: Image):
        """I - I* and the image the features stand for, from what the step computed."""
        stamp, frame_id = frame.header.stamp, frame.header.frame_id
        if session.goal is not None and self.debug_pub.get_subscription_count():
            difference = np.clip(0.5 + 0.5 * (image - session.goal.image), 0.0, 1.0)
            self.debug_pub.publish(gray_to_image_msg(difference, stamp, frame_id))
        feature = session.feature
        if (command.features is not None and self.reconstruction_pub.get_subscription_count()
                and type(feature).reconstruct is not Feature.reconstruct):
            reconstruction = np.clip(feature.reconstruct(command.features), 0.0, 1.0)
            self.reconstruction_pub.publish(gray_to_image_msg(reconstruction, stamp, frame_id))

    def stop(self):
        """End actions and the loop, then a last zero twist (before the executor shuts down)."""
        self.stopping.set()
        if not self.loop.close():
            self.get_logger().error('the servo loop is stuck in a step; exiting without it')
        self.publish(ServoCommand(np.zeros(6), ServoState.IDLE, 0, reason='servo_node stopped'), None)
        stop_executor(self.action_executor)
        self.action_thread.join(JOIN_TIMEOUT_S)
        self.action_node.destroy_node()


def _result(command: ServoCommand, reason: str, converged: bool = False) -> ServoToImage.Result:
    return ServoToImage.Result(converged=converged, iterations=command.iteration,
                               final_feature_error=float(command.error_norm), reason=reason)


def main(args=None) -> int:
    return run(ServoNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
