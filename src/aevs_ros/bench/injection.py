"""Fault injection into the running sim graph: its node processes, and a probe on its topics.

`aevs bench faults` (bench/faults.py) breaks the sim graph on purpose and watches what every
node does. Two pieces:

- :class:`SimGraph`: the nodes of `aevs launch sim` (graph.build_graph, started with
  commands/launch.command_line) as processes, in a ROS domain of their own with the
  environment of `aevs bench soak` (LOCALHOST discovery, logs in a temporary folder). A node
  can be killed, frozen (SIGSTOP), thawed and restarted; its output goes to a log file that
  is searched for tracebacks. sim_scenario is left out: the probe sets the goals instead.
- :class:`Probe`: an rclpy node in this process, in that domain. It records what the graph
  publishes with the arrival time, plays a second camera or a rogue servo (images on
  /camera/image_raw, twists on /servo/twist), and calls /set_goal_image, /gantry/estop and
  servo_node's parameter services.
"""
from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from .. import graph
from ..graph_processes import command_line, teardown
from ..ros_domain import environment, local_domain_variables, reserved_domain_id
from .soak import JOIN_TIMEOUT_S

#: the nodes of the sim graph that run throughout (sim_scenario's part is the probe's)
NODES = ('planar_renderer', 'gantry_driver', 'servo_node')
#: longest wait for a node to start (imports, discovery on a busy machine) [s]
START_TIMEOUT_S = 30.0
#: longest wait for a service answer [s]
ANSWER_TIMEOUT_S = 10.0
_graphs_so_far = itertools.count()


def wait_until(predicate, timeout: float, period: float = 0.01) -> bool:
    """True as soon as ``predicate()`` is, False if it still is not after ``timeout`` seconds
    (test/ros/waiting.py's bounded wait, for code that ships outside the tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


def spec_parameters(spec) -> dict:
    """The parameters a node of the graph starts with: its files in order, then the overrides."""
    values = {}
    for path in spec.parameter_files:
        values.update(graph.preset_parameters(path, spec.name))
    values.update(spec.parameters)
    return values


class SimGraph:
    """The sim graph's node processes (config/sim.yaml: DVS) in a ROS domain of their own;
    ``nodes`` start at once; ``overrides`` maps a node's executable to parameters that replace
    its preset's."""

    def __init__(self, nodes=NODES, overrides: dict[str, dict] | None = None):
        overrides = overrides or {}
        self.specs = {spec.executable: replace(spec, parameters={**spec.parameters,
                                                                 **overrides.get(spec.executable, {})})
                      for spec in graph.build_graph('sim', keep_running=True)}
        self.parameters = {name: spec_parameters(spec) for name, spec in self.specs.items()}
        self.initial = tuple(nodes)
        self.processes: dict[str, subprocess.Popen] = {}
        self.frozen: set[str] = set()
        self.save_logs_to: Path | None = None  #: if set on exit, the node logs are copied there

    def __enter__(self) -> 'SimGraph':
        self._stack = contextlib.ExitStack()
        try:
            self.domain_id = self._stack.enter_context(reserved_domain_id(os.getpid() + next(_graphs_so_far)))
            self.folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix='aevs_faults_')))
            self._stack.callback(self._save_logs)  # after the nodes have stopped, before the folder goes
            self._stack.enter_context(environment(
                **local_domain_variables(self.domain_id, self.folder / 'ros_log'), PYTHONUNBUFFERED='1'))
            self._stack.callback(self._stop_all)
            for name in self.initial:
                self.start(name)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_exc):
        self._stack.close()

    def _stop_all(self):
        for name in list(self.frozen):
            self.thaw(name)  # a stopped process would only take the SIGKILL of the teardown
        teardown(list(self.processes.values()))

    def _save_logs(self):
        if self.save_logs_to is not None:
            self.save_logs_to.mkdir(parents=True, exist_ok=True)
            for name in self.processes:
                shutil.copy(self.log_path(name), self.save_logs_to / f'{name}.log')

    # -- processes ---------------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.folder / f'{name}.log'

    def start(self, name: str) -> None:
        """Start node ``name`` (again, if it died); its output is appended to its log."""
        with open(self.log_path(name), 'a') as log:
            self.processes[name] = subprocess.Popen(command_line(self.specs[name]), stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, name: str, signum: int) -> None:
        try:
            os.killpg(self.processes[name].pid, signum)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """SIGKILL: no teardown, no last zero twist, as a crash or the OOM killer would."""
        self.signal(name, signal.SIGKILL)
        self.frozen.discard(name)
        self.processes[name].wait(JOIN_TIMEOUT_S)

    def freeze(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)
        self.frozen.add(name)

    def thaw(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)
        self.frozen.discard(name)

    def alive(self, name: str) -> bool:
        return name in self.processes and self.processes[name].poll() is None

    def exit_code(self, name: str) -> int | None:
        return self.processes[name].poll() if name in self.processes else None

    # -- output ------------------------------------------------------------------------------------
    def log_sizes(self) -> dict[str, int]:
        return {name: self.log_path(name).stat().st_size for name in self.processes}

    def output_since(self, sizes: dict[str, int]) -> dict[str, str]:
        """What each node wrote after ``sizes`` (from :meth:`log_sizes`)."""
        texts = {}
        for name in self.processes:
            with open(self.log_path(name), 'rb') as log:
                log.seek(sizes.get(name, 0))
                texts[name] = log.read().decode(errors='replace')
        return texts

    def run_alone(self, spec, timeout: float) -> tuple[int | None, str, float]:
        """Run one node executable in this domain until it exits: (exit code or None if it
        outlived ``timeout``, its output, seconds)."""
        started = time.monotonic()
        try:
            result = subprocess.run(command_line(spec), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, timeout=timeout, start_new_session=True)
            return result.returncode, result.stdout, time.monotonic() - started
        except subprocess.TimeoutExpired as exc:
            output = exc.output.decode(errors='replace') if isinstance(exc.output, bytes) else exc.output or ''
            return None, output, time.monotonic() - started


class _Record:
    """Messages of one topic with their arrival times (time.monotonic), appended by the spinner."""

    def __init__(self):
        self.times, self.items, self.lock = [], [], threading.Lock()

    def append(self, item) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.items.append(item)

    def since(self, start: float, end: float = float('inf')) -> list[tuple[float, object]]:
        with self.lock:
            first, last = bisect.bisect_left(self.times, start), bisect.bisect_right(self.times, end)
            return list(zip(self.times[first:last], self.items[first:last]))

    def latest(self):
        with self.lock:
            return self.items[-1] if self.items else None


class Probe:
    """Records the graph's topics and injects into them, from this process (see the module doc)."""

    NAME = 'aevs_fault_probe'

    def __init__(self, domain_id: int):
        self.domain_id = domain_id
        self.joint_states, self.twists, self.poses = _Record(), _Record(), _Record()
        self.statuses, self.gantry_statuses, self.camera_infos = _Record(), _Record(), _Record()
        self._frame = None  # stamp -> (Image, CameraInfo or None) published at 30 Hz, or None
        self._twist = None  # TwistStamped published at 50 Hz, or None
        self._own_gid = None

    def __enter__(self) -> 'Probe':
        import rclpy
        from aevs_msgs.msg import ServoStatus
        from aevs_msgs.srv import SetGoalImage
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image, JointState
        from std_msgs.msg import String
        from std_srvs.srv import SetBool

        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        node = self.node = rclpy.create_node(self.NAME, context=self.context)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(JointState, 'joint_states', self.joint_states.append, 100)
        # best effort: it hears the servo (reliable) and the probe's own injections alike
        node.create_subscription(TwistStamped, 'servo/twist', self._on_twist,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT))
        node.create_subscription(PoseStamped, 'gantry/camera_pose', self.poses.append, 100)
        node.create_subscription(ServoStatus, 'servo/status', self.statuses.append, 100)
        node.create_subscription(String, 'gantry/status', self.gantry_statuses.append, latched)
        node.create_subscription(CameraInfo, 'camera/camera_info', self.camera_infos.append,
                                 qos_profile_sensor_data)
        self.image_pub = node.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, 'camera/camera_info', qos_profile_sensor_data)
        self.twist_pub = node.create_publisher(TwistStamped, 'servo/twist', qos_profile_sensor_data)
        self.goal_client = node.create_client(SetGoalImage, 'set_goal_image')
        self.estop_client = node.create_client(SetBool, 'gantry/estop')
        self.servo_parameters = AsyncParameterClient(node, 'servo_node')
        node.create_timer(1 / 30, self._publish_frame)
        node.create_timer(1 / 50, self._publish_twist)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(node)
        self.spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self.spinner.start()
        return self

    def __exit__(self, *_exc):
        self.executor.shutdown(timeout_sec=JOIN_TIMEOUT_S)  # stop and join before destroying
        self.spinner.join(JOIN_TIMEOUT_S)
        self.node.destroy_node()
        self.context.try_shutdown()

    # -- what the graph publishes ----------------------------------------------------------------
    def _on_twist(self, msg, info):
        self.twists.append((msg, bytes(info['publisher_gid']['data'])[:16]))

    def servo_twists(self, start: float, end: float = float('inf')) -> list:
        """(arrival, TwistStamped) on /servo/twist from the graph, not the probe's own injections."""
        if self._own_gid is None:
            mine = [info for info in self.node.get_publishers_info_by_topic('/servo/twist')
                    if info.node_name == self.NAME]
            self._own_gid = bytes(mine[0].endpoint_gid)[:16] if mine else None
        return [(t, msg) for t, (msg, gid) in self.twists.since(start, end) if gid != self._own_gid]

    # -- injections --------------------------------------------------------------------------------
    def stream_frames(self, make_frame) -> None:
        """Publish ``make_frame(stamp) -> (Image, CameraInfo or None)`` at 30 Hz; None stops."""
        self._frame = make_frame

    def stream_twist(self, twist) -> None:
        """Publish this TwistStamped on /servo/twist at 50 Hz; None stops."""
        self._twist = twist

    def _publish_frame(self):
        make_frame = self._frame
        if make_frame is not None:
            image, info = make_frame(self.node.get_clock().now().to_msg())
            self.image_pub.publish(image)
            if info is not None:
                self.info_pub.publish(info)

    def _publish_twist(self):
        if self._twist is not None:
            self.twist_pub.publish(self._twist)

    # -- services ----------------------------------------------------------------------------------
    def _call(self, client, request):
        """The answer of a service, or TimeoutError (no service, or no answer in time)."""
        if not client.wait_for_service(timeout_sec=ANSWER_TIMEOUT_S):
            raise TimeoutError(f'service {client.srv_name} not available within {ANSWER_TIMEOUT_S:g} s')
        return self._result(client.call_async(request), f'service {client.srv_name}')

    @staticmethod
    def _result(future, what: str):
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(ANSWER_TIMEOUT_S):
            raise TimeoutError(f'{what}: no answer within {ANSWER_TIMEOUT_S:g} s')
        return future.result()

    def set_goal(self, image, camera_info):
        from aevs_msgs.srv import SetGoalImage

        return self._call(self.goal_client, SetGoalImage.Request(image=image, camera_info=camera_info))

    def estop(self, engaged: bool):
        from std_srvs.srv import SetBool

        return self._call(self.estop_client, SetBool.Request(data=engaged))

    def set_servo_parameter(self, name: str, value):
        """servo_node's answer (rcl_interfaces/SetParametersResult) to ``name := value``."""
        from rclpy.parameter import Parameter

        if not self.servo_parameters.wait_for_services(timeout_sec=ANSWER_TIMEOUT_S):
            raise TimeoutError(f'parameter services of servo_node not available within {ANSWER_TIMEOUT_S:g} s')
        response = self._result(self.servo_parameters.set_parameters([Parameter(name, value=value)]),
                                f'set parameter {name}')
        return response.results[0]

    def servo_parameter(self, name: str):
        """servo_node's current value of ``name`` (its ParameterValue message)."""
        return self._result(self.servo_parameters.get_parameters([name]), f'get parameter {name}').values[0]
