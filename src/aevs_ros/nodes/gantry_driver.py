"""gantry_driver: camera twists (/servo/twist) -> safe joint velocities of a 6-axis gantry.

The node only adapts aevs_ros.robot (kinematics, limits, watchdog, control step) to ROS.
Every 1/control_rate s it reads the joint positions from the backend, runs one
``GantryController.step`` and sends the command; it publishes /gantry/camera_pose (and TF
world -> camera frame when tf2_ros is importable) and the status on change.

Backends (parameter ``backend``):
  sim           integrates the commanded velocities (fake hardware); publishes /joint_states.
  ros2_control  publishes std_msgs/Float64MultiArray to ``<controller_name>/commands`` (a
                JointGroupVelocityController) and reads ``joint_states_topic``, which the
                robot's joint_state_broadcaster publishes: this node then publishes no
                /joint_states of its own.
  twist         forwards the tool's velocity, a TwistStamped in ``base_frame``, to
                ``twist_output_topic`` (e.g. moveit_servo's ~/delta_twist_cmds); joint
                positions from ``joint_states_topic`` as for ros2_control.
The watchdog halts (decelerating at the acceleration limits) when no twist has *arrived* for
command_timeout (receive time on a steady clock, never the header stamp) and while the e-stop
(/gantry/estop, SetBool) is engaged. Twists and robot joint states are passed on as received:
the controller refuses garbage (NaN, inf, absurdly large values) with a fault status, so that
only finite commands within the limits leave the node. A zero command is sent on shutdown,
by every backend.
"""
from __future__ import annotations

import sys

import numpy as np
from geometry_msgs.msg import PoseStamped, TransformStamped, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data)
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool

from aevs_ros.core.errors import AevsError
from aevs_ros.nodes import Param, declare, run
from aevs_ros.nodes.msg_conversions import array_to_twist, matrix_to_pose, twist_to_array
from aevs_ros.robot import (DEFAULT_JOINT_NAMES, CommandWatchdog, GantryController, GantryStatus,
                            config_from_parameters, initial_joint_positions, with_live_values)

try:  # only on a ROS install: not on PyPI
    from tf2_ros import TransformBroadcaster
except ImportError:
    TransformBroadcaster = None

BACKENDS = ('sim', 'ros2_control', 'twist')
#: longest wait on shutdown for the subscribers to acknowledge the final zero [s]. Fast DDS
#: acknowledges on its heartbeat (seen ~2 s after the last sample here), so this often ends
#: unacknowledged although the zero was delivered within milliseconds: delivery is not the wait.
ACK_TIMEOUT_S = 0.5
IDENTITY = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
RO = {'read_only': True}  # structural: fixed for the node's lifetime
# Poses are [x, y, z, qx, qy, qz, qw]; joint vectors are [X, Y, Z [m], wrist 1..3 [rad]].
PARAMETERS = (
    Param('backend', 'sim', 'sim | ros2_control | twist', choices=BACKENDS, **RO),
    Param('control_rate', 100.0, 'control loop and publishing rate [Hz]', low=1.0, high=1000.0, **RO),
    Param('command_timeout', 0.1, 'halt when no twist arrived for this long [s]', low=0.001, high=10.0),
    Param('joint_names', list(DEFAULT_JOINT_NAMES), 'q1..q3 prismatic X/Y/Z, q4..q6 wrist', **RO),
    Param('wrist_axes', 'zyx', 'axes of the wrist joints q4, q5, q6 (e.g. zyx, zxz)', **RO),
    Param('wrist_mount', [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], 'carriage -> first wrist frame', **RO),
    Param('flange', [0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0], 'last wrist frame -> tool frame', **RO),
    Param('tool_T_camera', IDENTITY, 'hand-eye: camera optical frame -> tool frame', **RO),
    Param('world_T_base', IDENTITY, 'gantry base frame in the world frame', **RO),
    Param('position_min', [-0.5, -0.5, 0.0, -3.1416, -1.5708, -3.1416], 'joint minimum [m, rad]'),
    Param('position_max', [0.5, 0.5, 1.0, 3.1416, 1.5708, 3.1416], 'joint maximum [m, rad]'),
    Param('max_velocity', [0.25, 0.25, 0.25, 1.0, 1.0, 1.0], 'per joint [m/s, rad/s]'),
    Param('max_acceleration', [2.0, 2.0, 2.0, 6.0, 6.0, 6.0], 'per joint [m/s^2, rad/s^2]'),
    Param('workspace_min', [-0.4, -0.4, 0.15], 'camera position box in world, minimum [m]'),
    Param('workspace_max', [0.4, 0.4, 1.0], 'camera position box in world, maximum [m]'),
    Param('singularity_slowdown', 0.2, 'wrist sigma_min where damping and slow-down start',
          low=0.0, high=1.0),
    Param('singularity_halt', 0.05, 'wrist sigma_min where motion towards it stops', low=0.0, high=1.0),
    Param('max_damping', 0.1, 'damped least squares lambda at a singularity', low=1e-4, high=1.0),
    Param('initial_camera_pose', [0.0, 0.0, 0.6, 1.0, 0.0, 0.0, 0.0], 'sim: start pose in world (IK)', **RO),
    Param('world_frame', 'world', 'frame of /gantry/camera_pose', **RO),
    Param('camera_frame', 'camera_optical_frame', 'frame of the twists and of TF', **RO),
    Param('base_frame', 'gantry_base', 'twist backend: frame of the output twist', **RO),
    Param('controller_name', 'forward_velocity_controller', 'ros2_control: velocity controller', **RO),
    Param('joint_states_topic', '/joint_states', 'ros2_control, twist: robot joint states', **RO),
    Param('state_timeout', 0.5, 'halt when the robot joint state is older than this [s]',
          low=0.001, high=10.0),
    Param('twist_output_topic', '/servo_node/delta_twist_cmds', 'twist backend: output topic', **RO),
)
LIVE = {param.name for param in PARAMETERS if not param.read_only}


class GantryDriver(Node):
    def __init__(self, **kwargs):
        super().__init__('gantry_driver', **kwargs)
        p = {name: list(v) if isinstance(v, (list, tuple)) or hasattr(v, 'tolist') else v
             for name, v in declare(self, PARAMETERS).items()}
        # a double array without a default (an empty list has no type): unset = use the pose
        self.declare_parameter('initial_joint_positions', Parameter.Type.DOUBLE_ARRAY, ParameterDescriptor(
            description='sim: start joint positions; overrides initial_camera_pose', read_only=True))
        try:
            p['initial_joint_positions'] = list(self.get_parameter('initial_joint_positions').value)
        except ParameterUninitializedException:
            p['initial_joint_positions'] = []
        model, safety = config_from_parameters(p)  # refuses inconsistent settings
        self.params, self.model = p, model
        self.controller = GantryController(model, safety)
        self.watchdog = CommandWatchdog(safety.command_timeout)
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.estop, self.twist, self.status = False, None, None
        self.q, self.state_time, self.last_tick = None, None, None
        if p['backend'] == 'sim':
            self.q = initial_joint_positions(model, safety, p['initial_joint_positions'],
                                             p['initial_camera_pose'])
            self.joint_pub = self.create_publisher(JointState, 'joint_states', 10)
        else:
            self.create_subscription(JointState, p['joint_states_topic'], self.on_joint_state, 10)
            if p['backend'] == 'ros2_control':
                self.out = self.create_publisher(Float64MultiArray, f"{p['controller_name']}/commands", 10)
            else:
                self.out = self.create_publisher(TwistStamped, p['twist_output_topic'], 10)
        self.pose_pub = self.create_publisher(PoseStamped, 'gantry/camera_pose', 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.status_pub = self.create_publisher(String, 'gantry/status', latched)
        self.tf = TransformBroadcaster(self) if TransformBroadcaster else None
        self.create_subscription(TwistStamped, 'servo/twist', self.on_twist, qos_profile_sensor_data)
        self.create_service(SetBool, 'gantry/estop', self.on_estop)
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.create_timer(1.0 / p['control_rate'], self.on_timer)
        self.get_logger().info(f"{p['backend']} backend, {p['control_rate']:g} Hz, "
                               f"command_timeout {safety.command_timeout:g} s")

    # --- callbacks: msg -> numpy -> core -> msg ---------------------------------------------
    def on_twist(self, msg: TwistStamped):
        """Keep the twist even if it is garbage: the controller halts on it with INVALID_COMMAND."""
        v = twist_to_array(msg.twist)
        if msg.header.frame_id not in ('', self.params['camera_frame']):
            self.get_logger().warning(f"rejected a twist in frame {msg.header.frame_id!r}, expected "
                                      f"{self.params['camera_frame']!r}", throttle_duration_sec=1.0)
            return
        self.twist = v
        self.watchdog.feed(self.steady.now().nanoseconds * 1e-9)

    def on_joint_state(self, msg: JointState):
        index = dict(zip(msg.name, msg.position))
        try:
            self.q = np.array([index[name] for name in self.model.joint_names], dtype=float)
            self.state_time = self.steady.now().nanoseconds * 1e-9
        except KeyError:
            self.get_logger().error(f'joint state lacks some of {list(self.model.joint_names)}: '
                                    f'has {list(msg.name)}', throttle_duration_sec=2.0)

    def on_estop(self, request, response):
        self.estop = bool(request.data)
        response.success, response.message = True, 'e-stop engaged' if self.estop else 'e-stop released'
        self.get_logger().warning(response.message)
        return response

    def on_set_parameters(self, parameters):
        changed = {p.name: (list(p.value) if isinstance(p.value, (list, tuple)) else p.value)
                   for p in parameters if p.name in LIVE}
        try:
            safety = with_live_values(self.controller.safety, changed)
        except (AevsError, ValueError) as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.controller.safety = safety
        self.watchdog.timeout = safety.command_timeout
        self.params.update(changed)
        return SetParametersResult(successful=True)

    def on_timer(self):
        now = self.get_clock().now()
        steady = self.steady.now().nanoseconds * 1e-9
        dt = 1.0 / self.params['control_rate'] if self.last_tick is None else \
            min(max((now - self.last_tick).nanoseconds * 1e-9, 0.0), 0.1)
        self.last_tick = now
        if self.params['backend'] != 'sim' and (self.q is None
                                                or steady - self.state_time > self.params['state_timeout']):
            self.controller.reset()
            self._send(np.zeros(6), now)
            return self._report(GantryStatus.NO_ROBOT_STATE)
        fresh = self.watchdog.is_fresh(steady)
        result = self.controller.step(self.q, self.twist if fresh else None, dt,
                                      GantryStatus.ESTOP if self.estop else None)
        if self.params['backend'] == 'sim':
            limits = self.controller.safety.limits
            self.q = np.clip(self.q + result.qdot * dt, limits.position_min, limits.position_max)
        self._send(result.qdot, now)
        if result.status != GantryStatus.INVALID_ROBOT_STATE:  # no pose from garbage positions
            self._publish_pose(now)
        self._report(result.status, result.reason)

    # --- outputs ------------------------------------------------------------------------------
    def _send(self, qdot, now):
        backend = self.params['backend']
        if backend == 'sim':
            msg = JointState(name=list(self.model.joint_names), position=self.q.tolist(),
                             velocity=np.asarray(qdot, float).tolist())
            msg.header.stamp = now.to_msg()
            self.joint_pub.publish(msg)
        elif backend == 'ros2_control':
            self.out.publish(Float64MultiArray(data=np.asarray(qdot, float).tolist()))
        else:
            # a zero command needs no Jacobian, so it stays zero even if the robot state is NaN
            twist = self.model.jacobian(self.q) @ qdot if np.any(qdot) else np.zeros(6)
            msg = TwistStamped()
            msg.header.stamp, msg.header.frame_id = now.to_msg(), self.params['base_frame']
            msg.twist = array_to_twist(twist)
            self.out.publish(msg)

    def _publish_pose(self, now):
        msg = PoseStamped(pose=matrix_to_pose(self.model.world_T_camera(self.q)))
        msg.header.stamp, msg.header.frame_id = now.to_msg(), self.params['world_frame']
        self.pose_pub.publish(msg)
        if self.tf is not None:
            t = TransformStamped(header=msg.header, child_frame_id=self.params['camera_frame'])
            position = msg.pose.position
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                position.x, position.y, position.z)
            t.transform.rotation = msg.pose.orientation
            self.tf.sendTransform(t)

    def _report(self, status, reason=''):
        if status != self.status:
            self.status = status
            self.status_pub.publish(String(data=status.name))
            message = f'status {status.name}' + (f': {reason}' if reason else '')
            if status <= GantryStatus.NO_COMMAND:  # one call site per severity (rclpy rule)
                self.get_logger().info(message)
            else:
                self.get_logger().warning(message)

    def stop(self):
        """Send a zero command, every backend (called on shutdown, before the node is destroyed).

        The wait for its acknowledgement is short and bounded (ACK_TIMEOUT_S): it runs in C
        holding the GIL, so signals are not handled meanwhile. Nothing is sent once the context
        is shut down (publishing would raise in the middle of the caller's teardown).
        """
        if not self.context.ok():
            return
        self._send(np.zeros(6), self.get_clock().now())
        output = self.joint_pub if self.params['backend'] == 'sim' else self.out
        if not output.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S)):
            self.get_logger().info(f'final zero command sent, not acknowledged within '
                                   f'{ACK_TIMEOUT_S:g} s')


def main(args=None):
    return run(GantryDriver, args, num_threads=1)  # stop() publishes the zero command


if __name__ == '__main__':
    sys.exit(main())
