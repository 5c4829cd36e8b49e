"""sim_scenario: one simulated servo run, judged against the ground truth.

Renders the goal view at ``goal_pose`` with the renderer's scene (the same parameter file)
and the very camera the renderer streams (its ``camera/camera_info``), calls ``set_goal_image``
with that image and camera_info (retrying until the service accepts, for at most
``set_goal_timeout``), then watches ``gantry/camera_pose`` and ``servo/status``.
When the servo reports CONVERGED (or FAULT, or ``timeout`` runs out) it computes the outcome
with core.outcome.servo_outcome (start = the first pose seen, final = the last one), logs it,
writes it to ``json_path`` if set, and exits: 0 when the outcome is converged, 1 when not,
2 when no outcome could be computed.
"""
from __future__ import annotations

import time

import numpy as np
from aevs_msgs.msg import ServoStatus
from aevs_msgs.srv import SetGoalImage
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo

from ..core.errors import AevsError
from ..core.outcome import StopReason, format_outcome, servo_outcome, write_json
from ..core.servo import ServoState
from ..core.se3 import pose_from_list
from ..graph import RENDERED_SCENE, start_pose
from . import Param, declare, run
from .image_conversions import camera_from_info, gray_to_image_msg
from .msg_conversions import pose_to_matrix
from .planar_renderer import PARAMETERS as RENDERER_PARAMETERS
from .planar_renderer import scene_from_parameters


PARAMETERS = (
    *(param for param in RENDERER_PARAMETERS if param.name in RENDERED_SCENE),
    Param('goal_pose', [0.0, 0.0, 0.6, 1.0, 0.0, 0.0, 0.0], 'goal camera pose in world '
          '[x, y, z, qx, qy, qz, qw] (default: 0.6 m above the scene centre, looking down)', read_only=True),
    Param('start_offset', [0.0] * 6, 'start pose (given to gantry_driver by the graph) = the goal pose moved by '
          '[dx, dy, dz (m), rx, ry, rz (deg, rotation vector)] in the goal camera frame', read_only=True),
    Param('timeout', 60.0, 'give up (not converged) after this long [s]', read_only=True, low=0.1, high=1e6),
    Param('set_goal_timeout', 30.0, 'keep calling set_goal_image for this long [s]', read_only=True,
          low=0.1, high=1e6),
    Param('max_distance', 0.5, 'stop (failed) when the camera is farther than this from the goal [m]',
          read_only=True, low=1e-3, high=1e3),
    Param('settle_time', 0.2, 'wait this long after CONVERGED before taking the final pose [s]',
          read_only=True, low=0.0, high=60.0),
    Param('json_path', '', "write the outcome JSON here; '' = no file", read_only=True),
    Param('model_choice', '', "which shipped model the servo uses and why (the graph sets it), for the outcome",
          read_only=True),
    Param('exit_when_done', True, 'exit once the outcome is reported (ends `aevs launch sim`)', read_only=True),
)


class SimScenario(Node):
    def __init__(self, **kwargs):
        super().__init__('sim_scenario', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.goal_pose = pose_from_list(self.params['goal_pose'])
        self.planned_start = start_pose(self.params)
        self.scene = scene_from_parameters(self.params)
        self.goal_request = None  # rendered once the renderer's camera_info is known
        self.done, self.exit_code, self.reported = Future(), 2, False
        self.started = time.monotonic()
        self.goal_set_at = None  # monotonic time the servo accepted the goal
        self.first_pose = self.last_pose = None
        self.status = None  # the last status received after the goal was set
        self.converged_at = None
        self.call = None
        self.client = self.create_client(SetGoalImage, 'set_goal_image')
        self.create_subscription(PoseStamped, 'gantry/camera_pose', self.on_pose, qos_profile_sensor_data)
        self.create_subscription(ServoStatus, 'servo/status', self.on_status, 10)
        self.create_subscription(CameraInfo, 'camera/camera_info', self.on_camera_info, qos_profile_sensor_data)
        self.create_timer(0.1, self.on_timer)
        self.get_logger().info('waiting for the renderer\'s camera_info and for set_goal_image')

    def on_camera_info(self, info: CameraInfo):
        """Render the goal with the camera the renderer runs with, not with this node's copy of
        its parameters (a preset may give the renderer another camera)."""
        if self.goal_request is not None:
            return
        try:
            camera = camera_from_info(info)
        except AevsError as exc:
            self.get_logger().warning(f'ignoring camera_info: {exc}', throttle_duration_sec=5.0)
            return
        goal_view = self.scene.render(camera, self.goal_pose)
        image = gray_to_image_msg(goal_view.image, info.header.stamp, self.params['frame_id'])
        self.goal_request = SetGoalImage.Request(image=image, camera_info=info)
        self.get_logger().info(f'goal view rendered at {camera.width}x{camera.height}, fx {camera.fx:.1f} '
                               f'({goal_view.visible_fraction:.0%} of it sees the scene)')

    def on_pose(self, msg: PoseStamped):
        self.last_pose = pose_to_matrix(msg.pose)
        if self.first_pose is None:
            self.first_pose = self.last_pose
        distance = float(np.linalg.norm(self.last_pose[:3, 3] - self.goal_pose[:3, 3]))
        if self.goal_set_at is not None and distance > self.params['max_distance']:
            self.finish(f'diverged: the camera is {distance:.2f} m from the goal', StopReason.TOO_FAR)

    def on_status(self, msg: ServoStatus):
        if self.goal_set_at is None or self.converged_at is not None:
            return
        self.status = msg
        if msg.state == ServoState.CONVERGED:
            self.converged_at = time.monotonic()
        elif msg.state == ServoState.FAULT and msg.iteration > 0:  # ignore faults before the first step
            self.finish(f'fault: {msg.reason}', StopReason.FAULT)  # the message carries no kind

    def on_timer(self):
        now = time.monotonic()
        if self.reported:
            return
        if self.goal_set_at is None:
            self.try_set_goal(now)
        elif self.converged_at is not None and now - self.converged_at >= self.params['settle_time']:
            self.finish('converged', StopReason.CONVERGED)
        if now - self.started > self.params['timeout']:
            self.finish(f"timeout: no convergence within {self.params['timeout']:g} s", StopReason.BUDGET_EXHAUSTED)

    def try_set_goal(self, now: float):
        if self.call is not None and self.call.done():
            response, self.call = self.call.result(), None
            if response.success:
                self.goal_set_at = now
                self.get_logger().info(f'goal set: {response.message}')
                return
            self.get_logger().info(f'set_goal_image refused ({response.message}); retrying',
                                   throttle_duration_sec=2.0)
        if now - self.started > self.params['set_goal_timeout']:
            return self.finish(f"could not set the goal within {self.params['set_goal_timeout']:g} s",
                               StopReason.ERROR)
        if (self.call is None and self.client.service_is_ready() and self.first_pose is not None
                and self.goal_request is not None):
            self.call = self.client.call_async(self.goal_request)

    def finish(self, reason: str, stop: StopReason):
        if self.reported:
            return
        self.reported = True
        status = self.status
        if self.first_pose is None or self.last_pose is None:
            self.get_logger().error(f'{reason}; no camera pose was received, so there is no outcome')
            self.exit_code = 2
        else:
            outcome = servo_outcome(
                status.method if status else '', self.first_pose, self.last_pose, self.goal_pose,
                status.iteration if status else 0,
                (self.converged_at or time.monotonic()) - (self.goal_set_at or self.started),
                stop is StopReason.CONVERGED, reason, stop, transport='ros',
                final_feature_error=status.feature_error_norm if status else float('nan'),
                scene=self.params['scene_path'] or 'default')
            if self.params['model_choice']:
                outcome['model_choice'] = self.params['model_choice']
            self.get_logger().info('outcome:\n' + format_outcome(outcome))
            if self.params['json_path']:
                write_json(outcome, self.params['json_path'])
                self.get_logger().info(f"outcome written to {self.params['json_path']}")
            self.exit_code = 0 if outcome['converged'] else 1
        if self.params['exit_when_done']:
            self.done.set_result(self.exit_code)  # else keep running until Ctrl-C


def main(args=None) -> int:
    return run(SimScenario, args, num_threads=2)


if __name__ == '__main__':
    raise SystemExit(main())
