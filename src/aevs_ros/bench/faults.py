"""`aevs bench faults`: fault injection on the running sim graph, one fault per row.

Each row breaks the graph on purpose and checks that it fails safe: the gantry's joints stop,
the other nodes live on, the servo says why, good input brings it back, no node prints a
traceback and no topic carries NaN or inf.

The graph is the one `aevs launch sim` starts (real node processes, real DDS), without
sim_scenario: a probe in this process sets the goals and injects the faults (bench/injection.py).
Rows of one group share a graph in a ROS domain of their own; each row restores what it broke
(restarts a killed node, resumes a frozen one, releases the e-stop), so the next starts whole.
Every row checks, beside its own expectations, every float on /joint_states, the servo's
/servo/twist and /gantry/camera_pose during the row, the nodes' output (no 'Traceback') and that
every node is alive at its end. "Zero velocity" is every /joint_states velocity below 1e-9,
held for 0.3 s; its time is counted from the injection and must stay under 2 s.

Not here: a servo step slower than image_timeout and a hung step (test/ros/test_servo_node.py).
The exit code is 1 when a row fails.
"""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.servo import ServoState
from . import DEFAULT_OUT, benchmark_parser, machine_info, output_path
from .injection import NODES, START_TIMEOUT_S, Probe, SimGraph, wait_until
from .soak import normalise_reason

#: [s] the stated bound on the time to zero joint velocity (the design halt, command_timeout +
#: deceleration + a tick, is ~0.3 s with the sim preset; the rest is room for a busy machine)
HALT_BOUND_S = 2.0
HOLD_S = 0.3  #: [s] zero velocity must hold this long to count as halted
ZERO_VELOCITY = 1e-9  #: [m/s, rad/s] below this a joint is at rest
MOVING_VELOCITY = 0.01  #: [m/s, rad/s] above this (any joint) the gantry is in motion
SPEED_UP_S = 0.2  #: [s] after motion starts, time to reach speed before a fault is injected
FAULT_TIMEOUT_S = 5.0  #: [s] longest wait for the servo to report a fault (stale camera: image_timeout)
RECOVERY_TIMEOUT_S = 15.0  #: [s] longest wait for the servo to servo again after good input returns
FREEZE_S = 1.5  #: [s] how long a frozen node stays stopped: longer than image_timeout and step_timeout
STREAM_S = 1.0  #: [s] how long an extreme twist is streamed
STARTUP_BOUND_S = 15.0  #: [s] servo_node must refuse a bad start-up within this (not 30 s)
SERVOING, CONVERGED, FAULT = ServoState.SERVOING, ServoState.CONVERGED, ServoState.FAULT  #: ServoStatus.state
GROUPS = {  # the nodes each group's graph starts with
    'servo': NODES, 'camera': NODES,
    'goals': ('gantry_driver', 'servo_node'),  # the camera comes later: goals before its first frame
    'twists': ('gantry_driver',),  # no servo: only the injected twists reach the driver
    'start-up': (),
    'imperfect': NODES,
}
#: the renderer's parameters of each group that does not run the preset's clean camera
GROUP_OVERRIDES = {
    'imperfect': {'planar_renderer': {  # every imperfection of core/imperfections.py at once
        'noise_std': 0.02, 'quantization_bits': 8, 'gain': 1.3, 'offset': -0.05, 'gradient': 0.3,
        'highlight': 0.3, 'occlusion': 0.2, 'occlusion_speed': 0.2, 'motion_blur_exposure': 0.03}},
}


@dataclass(frozen=True)
class Row:
    key: str  #: short id (the test's name)
    fault: str
    expected: str
    group: str
    run: Callable[['Trial'], None]
    nodes: tuple[str, ...] = NODES  #: running when the row starts (restarted if dead)


class RowAborted(Exception):
    """A row could not reach the state its fault needs (no motion, a node that will not start)."""


# -- one row's run ------------------------------------------------------------------------------------

class Trial:
    """One row: the graph and the probe, what the row observed and which expectations failed."""

    def __init__(self, graph: SimGraph, probe: Probe):
        self.graph, self.probe = graph, probe
        self.facts, self.failures, self.reasons = [], [], []
        self.time_to_zero = None

    def saw(self, fact: str) -> None:
        self.facts.append(fact)

    def expect(self, ok: bool, failure: str) -> bool:
        if not ok:
            self.failures.append(failure)
        return ok

    def reason(self, text: str) -> None:
        if text and normalise_reason(text) not in map(normalise_reason, self.reasons):
            self.reasons.append(text)

    def one_line(self, text: str, what: str) -> None:
        self.expect(bool(text) and '\n' not in text, f'{what} is not one line: {text!r:.120}')
        self.reason(text)

    # -- preconditions -----------------------------------------------------------------------------
    def ready(self, name: str, since: float) -> None:
        wait_ready(self.graph, self.probe, name, since)

    def camera(self):
        """The renderer's latest camera_info and its PinholeCamera."""
        from ..core.camera import PinholeCamera

        info = self.probe.camera_infos.latest()
        if info is None:
            raise RowAborted('no camera_info from planar_renderer')
        return info, PinholeCamera.from_camera_info({'k': info.k, 'width': info.width, 'height': info.height})

    def view(self, pose, camera=None):
        """The scene as ``camera`` (default: the renderer's) sees it from ``pose``, float in [0, 1]."""
        return scene(self.graph).render(camera or self.camera()[1], pose).image

    def camera_pose(self):
        """The driver's latest /gantry/camera_pose; the probe may discover that topic later than
        joint_states, which made the driver ready."""
        if not wait_until(lambda: self.probe.poses.latest() is not None, START_TIMEOUT_S):
            raise RowAborted(f'no /gantry/camera_pose within {START_TIMEOUT_S:g} s')
        return self.probe.poses.latest()

    def start_motion(self) -> None:
        """Give the servo the scenario pose farther from the camera as its goal; wait for motion."""
        from ..nodes.image_conversions import gray_to_image_msg

        pose = self.camera_pose()
        here = np.array([pose.pose.position.x, pose.pose.position.y, pose.pose.position.z])
        target = max(scenario_poses(self.graph), key=lambda goal: np.linalg.norm(goal[:3, 3] - here))
        info, camera = self.camera()
        image = gray_to_image_msg(self.view(target, camera), info.header.stamp, info.header.frame_id)
        deadline = time.monotonic() + START_TIMEOUT_S
        answer = self.probe.set_goal(image, info)
        while not answer.success and time.monotonic() < deadline:  # a restarted servo: until its first frame
            time.sleep(0.2)
            answer = self.probe.set_goal(image, info)
        if not answer.success:
            raise RowAborted(f'goal refused: {answer.message}')
        asked = time.monotonic()
        if not wait_until(lambda: self.moving(asked), 5.0):
            raise RowAborted('the gantry did not move within 5 s of a goal 4.7 cm away')
        time.sleep(SPEED_UP_S)

    def moving(self, since: float) -> bool:
        return any(max(map(abs, msg.velocity), default=0.0) > MOVING_VELOCITY
                   for _, msg in self.probe.joint_states.since(since))

    # -- observations --------------------------------------------------------------------------------
    def halt(self, injected: float, hold: float = HOLD_S) -> None:
        """Zero joint velocity within HALT_BOUND_S of ``injected``, held for ``hold``.

        Timed by the joint states' own stamps (the driver's clock when it sent them), not by when
        this process got round to receiving them: a probe slowed down by the load it injects
        must not look like a robot that kept moving.
        """
        found = []
        injected_stamp = time.time() - (time.monotonic() - injected)  # the stamps' clock

        def halted():
            start = None
            for _, msg in self.probe.joint_states.since(injected):
                stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
                if stamp < injected_stamp:
                    continue
                if msg.velocity and max(map(abs, msg.velocity)) < ZERO_VELOCITY:
                    start = stamp if start is None else start
                    if stamp - start >= hold:
                        found.append(start - injected_stamp + injected)
                        return True
                else:
                    start = None
            return False

        before = self.probe.joint_states.since(injected - 1.0, injected)
        speed = f'{max(map(abs, before[-1][1].velocity)):.3g}' if before else 'unknown'
        wait_until(halted, HALT_BOUND_S + hold + 0.5)
        if self.expect(bool(found), f'joint velocity not zero (held {hold:g} s) within {HALT_BOUND_S:g} s'):
            self.time_to_zero = found[0] - injected
            self.expect(self.time_to_zero <= HALT_BOUND_S,
                        f'zero velocity after {self.time_to_zero:.2f} s > {HALT_BOUND_S:g} s')
            self.saw(f'halted in {self.time_to_zero * 1e3:.0f} ms from a joint speed of {speed}')

    def fault(self, since: float, text: str, timeout: float = FAULT_TIMEOUT_S):
        """The arrival time of the servo's first FAULT status since ``since`` whose reason holds
        ``text``, or None (a failure)."""
        found = []

        def check():
            found[:] = [(t, status) for t, status in self.probe.statuses.since(since)
                        if status.state == FAULT and text in status.reason][:1]
            return bool(found)

        wait_until(check, timeout)
        others = {s.reason for _, s in self.probe.statuses.since(since) if s.state == FAULT}
        if not self.expect(bool(found), f'no FAULT with {text!r} within {timeout:g} s (faults: {sorted(others)})'):
            return None
        arrival, status = found[0]
        self.one_line(status.reason, 'the fault reason')
        self.saw(f'FAULT {status.reason!r}')
        return arrival

    def zero_twist(self, faulted: float) -> None:
        """The servo's twists from its fault on are zero (the fault's own twist may arrive just
        before the status, a twist already sent just after it)."""
        time.sleep(HOLD_S)
        twists = self.probe.servo_twists(faulted - 0.2)
        moving = [t for t, msg in twists if t > faulted + 0.1 and any(twist_values(msg))]
        if self.expect(any(not any(twist_values(msg)) for _, msg in twists), 'no zero twist after the fault') \
                and self.expect(not moving, f'{len(moving)} non-zero twist(s) after the fault'):
            self.saw('zero twist')

    def alive(self, *names: str) -> None:
        dead = [name for name in names if not self.graph.alive(name)]
        if self.expect(not dead, f'died: {", ".join(dead)} (exit codes '
                                 f'{[self.graph.exit_code(name) for name in dead]})'):
            self.saw(f'{", ".join(short(name) for name in names)} alive')

    def recovers(self, since: float, what: str = 'recovered') -> None:
        """The servo servoes again (SERVOING or CONVERGED after a step) since ``since``."""
        ok = wait_until(lambda: any(s.state in (SERVOING, CONVERGED) and s.iteration > 0
                                    for _, s in self.probe.statuses.since(since)), RECOVERY_TIMEOUT_S)
        if self.expect(ok, f'no SERVOING / CONVERGED within {RECOVERY_TIMEOUT_S:g} s of good input'):
            self.saw(what)

    def gantry_statuses(self, since: float) -> list[str]:
        names = [msg.data for _, msg in self.probe.gantry_statuses.since(since)]
        for name in names:
            self.reason(f'gantry {name}')
        return names


def wait_ready(graph: SimGraph, probe: Probe, name: str, since: float) -> None:
    """Wait until a node started at ``since`` publishes (the renderer needs the driver's pose)."""
    heard = {'gantry_driver': probe.joint_states, 'planar_renderer': probe.camera_infos,
             'servo_node': probe.statuses}[name]
    if not wait_until(lambda: heard.since(since) or not graph.alive(name), START_TIMEOUT_S) or not graph.alive(name):
        tail = graph.log_path(name).read_text(errors='replace').strip().splitlines()[-3:]
        raise RowAborted(f'{name} did not start (exit code {graph.exit_code(name)}): {" | ".join(tail)}')


def short(name: str) -> str:
    return {'planar_renderer': 'renderer', 'gantry_driver': 'driver', 'servo_node': 'servo'}[name]


def twist_values(msg) -> list[float]:
    from ..nodes.msg_conversions import twist_to_array

    return twist_to_array(msg.twist).tolist()


@functools.cache
def _scene(scene_path: str, scene_width: float, blur_sigma: float):
    from ..nodes.planar_renderer import scene_from_parameters

    return scene_from_parameters({'scene_path': scene_path, 'scene_width': scene_width, 'blur_sigma': blur_sigma})


def scene(graph: SimGraph):
    """The scene the renderer shows (its parameters as the graph gives them)."""
    from ..nodes.planar_renderer import PARAMETERS

    values = {**{p.name: p.default for p in PARAMETERS}, **graph.parameters['planar_renderer']}
    return _scene(values['scene_path'], float(values['scene_width']), float(values['blur_sigma']))


def scenario_poses(graph: SimGraph):
    """The scenario's goal and start poses: the servo is sent back and forth between them."""
    from ..core.se3 import pose_from_list
    from ..graph import start_pose

    scenario = graph.parameters['sim_scenario']
    return pose_from_list(scenario['goal_pose'], 'goal_pose'), start_pose(scenario)


# -- the rows ---------------------------------------------------------------------------------------

def servo_killed(trial: Trial) -> None:
    trial.start_motion()
    injected = time.monotonic()
    trial.graph.kill('servo_node')
    trial.halt(injected)
    trial.alive('planar_renderer', 'gantry_driver')
    if 'NO_COMMAND' in trial.gantry_statuses(injected):
        trial.saw('driver NO_COMMAND')
    restart_and_servo(trial, 'servo_node', 'a restarted servo servoes')


def restart_and_servo(trial: Trial, name: str, what: str) -> None:
    """Start node ``name`` again and check that the servo moves the camera once it is up."""
    started = time.monotonic()
    trial.graph.start(name)
    trial.ready(name, started)
    trial.start_motion()
    trial.saw(what)


def servo_frozen(trial: Trial) -> None:
    trial.start_motion()
    injected = time.monotonic()
    trial.graph.freeze('servo_node')
    trial.halt(injected)
    trial.alive(*NODES)
    time.sleep(max(0.0, injected + FREEZE_S - time.monotonic()))
    thawed = time.monotonic()
    trial.graph.thaw('servo_node')
    resumed = wait_until(lambda: any(s.state in (SERVOING, CONVERGED) and s.iteration > 0
                                     for _, s in trial.probe.statuses.since(thawed)), RECOVERY_TIMEOUT_S)
    faults = [(t, s) for t, s in trial.probe.statuses.since(thawed) if s.state == FAULT]
    for _, status in faults:
        trial.one_line(status.reason, 'the fault reason')
    if resumed:
        trial.saw('resumed after SIGCONT' + (f' (after FAULT {faults[0][1].reason!r})' if faults else ''))
    elif trial.expect(bool(faults), 'after SIGCONT neither SERVOING nor a FAULT with a reason'):
        trial.saw(f'FAULT after SIGCONT: {faults[0][1].reason!r}')
        trial.zero_twist(faults[0][0])


def estop(trial: Trial) -> None:
    trial.start_motion()
    injected = time.monotonic()
    trial.expect(trial.probe.estop(True).success, 'e-stop request refused')
    trial.halt(injected, hold=0.5)
    trial.expect('ESTOP' in trial.gantry_statuses(injected), 'no gantry status ESTOP')
    released = time.monotonic()
    trial.expect(trial.probe.estop(False).success, 'e-stop release refused')
    if trial.expect(wait_until(lambda: trial.moving(released), 5.0), 'no motion within 5 s of the release'):
        trial.saw('moves again after release')


def renderer_lost(how: str):
    """The camera stops: killed (restarted afterwards) or frozen (resumed afterwards)."""
    def run(trial: Trial) -> None:
        trial.start_motion()
        injected = time.monotonic()
        (trial.graph.kill if how == 'kill' else trial.graph.freeze)('planar_renderer')
        faulted = trial.fault(injected, 'stale camera')
        if faulted is not None:
            trial.zero_twist(faulted)
        trial.halt(injected)
        trial.alive('gantry_driver', 'servo_node')
        restored = time.monotonic()
        if how == 'kill':
            trial.graph.start('planar_renderer')
        else:
            trial.graph.thaw('planar_renderer')
        trial.recovers(restored, 'recovered with the renderer ' + ('restarted' if how == 'kill' else 'resumed'))
    return run


# Malformed frames: make(camera_info, view, stamp) -> (Image, CameraInfo or None), where view
# is a float image of the renderer's camera.
def _image(array, encoding, stamp):
    from ..nodes.image_conversions import array_to_image_msg

    return array_to_image_msg(array, stamp, 'camera_optical_frame', encoding)


def _raw(height, width, encoding, step, size, stamp):
    from sensor_msgs.msg import Image

    msg = Image(height=height, width=width, encoding=encoding, step=step, data=bytes(size))
    msg.header.stamp, msg.header.frame_id = stamp, 'camera_optical_frame'
    return msg


def _with_holes(view, value):
    holed = view.astype(np.float32)
    holed[::7, ::5] = value  # scattered bad pixels: a check that samples a corner misses them
    return holed


BAD_FRAMES = {  # key: (fault, make the frame, text of the servo's reason)
    'nan_32fc1': ('image: 32FC1 with NaN pixels', lambda info, view, stamp: (
        _image(_with_holes(view, np.nan), '32FC1', stamp), None), 'NaN'),
    'inf_32fc1': ('image: 32FC1 with inf pixels', lambda info, view, stamp: (
        _image(_with_holes(view, np.inf), '32FC1', stamp), None), 'infinite'),
    'yuv422': ('image: yuv422 encoding', lambda info, view, stamp: (
        _raw(info.height, info.width, 'yuv422', 2 * info.width, 2 * info.width * info.height, stamp), None),
        "unsupported image encoding 'yuv422'"),
    '16uc3': ('image: 16UC3 encoding', lambda info, view, stamp: (
        _raw(info.height, info.width, '16UC3', 6 * info.width, 6 * info.width * info.height, stamp), None),
        "unsupported image encoding '16UC3'"),
    'wrong_size': ('image: half size vs camera_info', lambda info, view, stamp: (
        _image(np.rint(view[::2, ::2] * 255).astype(np.uint8), 'mono8', stamp), _restamped(info, stamp)),
        'camera_info says'),
    'one_pixel': ('image: 1x1', lambda info, view, stamp: (
        _image(np.full((1, 1), 128, np.uint8), 'mono8', stamp), None), 'smaller than'),
    'short_data': ('image: data shorter than height*step', lambda info, view, stamp: (
        _raw(info.height, info.width, 'mono8', info.width, info.width * (info.height - 1), stamp), None),
        'bytes of data'),
    '32fc1_0_255': ('image: 32FC1 scaled 0-255', lambda info, view, stamp: (
        _image((view * 255).astype(np.float32), '32FC1', stamp), None), '[0, 1]'),
}


def _restamped(info, stamp):
    from copy import deepcopy

    info = deepcopy(info)
    info.header.stamp = stamp
    return info


def bad_frames(key: str):
    """The renderer frozen, the probe streams malformed frames in its place; then the renderer resumes."""
    _, make, text = BAD_FRAMES[key]

    def run(trial: Trial) -> None:
        info, camera = trial.camera()
        view = trial.view(scenario_poses(trial.graph)[0], camera)
        trial.start_motion()
        trial.graph.freeze('planar_renderer')
        injected = time.monotonic()
        trial.probe.stream_frames(lambda stamp: make(info, view, stamp))
        try:
            faulted = trial.fault(injected, text)
            if faulted is not None:
                trial.zero_twist(faulted)
            trial.halt(injected)
            trial.alive('gantry_driver', 'servo_node')
        finally:
            trial.probe.stream_frames(None)
        resumed = time.monotonic()
        trial.graph.thaw('planar_renderer')
        trial.recovers(resumed, 'recovered on good frames')
    return run


def goal_before_first_frame(trial: Trial) -> None:
    """No lock-in: a refused goal before any frame leaves the servo free to take its camera's."""
    from sensor_msgs.msg import CameraInfo

    from ..core.camera import PinholeCamera
    from ..nodes.image_conversions import gray_to_image_msg

    big = PinholeCamera(640, 480, 900.0, 900.0, 319.5, 239.5)
    image = gray_to_image_msg(trial.view(scenario_poses(trial.graph)[0], big))
    answer = trial.probe.set_goal(image, CameraInfo())
    if trial.expect(not answer.success, 'a 640x480 goal before any camera frame was accepted'):
        trial.one_line(answer.message, 'the refusal')
        trial.saw(f'refused: {answer.message!r}')
    trial.alive('servo_node')
    restart_and_servo(trial, 'planar_renderer', 'then a good goal is servoed')


def refused_goal(make_goal, text: str):
    """A goal servo_node must refuse with ``text`` in its answer, and servo on."""
    def run(trial: Trial) -> None:
        image, info = make_goal(trial)
        asked = time.monotonic()
        answer = trial.probe.set_goal(image, info)
        if trial.expect(not answer.success, 'the goal was accepted') and \
                trial.expect(text in answer.message, f'refusal without {text!r}: {answer.message!r}'):
            trial.one_line(answer.message, 'the refusal')
            trial.saw(f'refused: {answer.message!r}')
        trial.alive('servo_node')
        trial.expect(wait_until(lambda: trial.probe.statuses.since(asked), 5.0), 'no servo status after the goal')
    return run


def _grey_goal(trial: Trial):
    from ..nodes.image_conversions import gray_to_image_msg

    info, camera = trial.camera()
    return gray_to_image_msg(np.full(camera.shape, 0.5, np.float32)), info


def _other_camera_goal(trial: Trial):
    from std_msgs.msg import Header

    from ..core.camera import PinholeCamera
    from ..nodes.image_conversions import gray_to_image_msg
    from ..nodes.planar_renderer import camera_info_msg

    other = PinholeCamera(320, 240, 260.0, 260.0, 159.5, 119.5)
    return (gray_to_image_msg(trial.view(scenario_poses(trial.graph)[0], other)),
            camera_info_msg(other, Header(frame_id='camera_optical_frame')))


def _nan_goal(trial: Trial):
    info, camera = trial.camera()
    view = trial.view(scenario_poses(trial.graph)[0], camera)
    return _image(_with_holes(view, np.nan), '32FC1', info.header.stamp), info


def refused_parameter(name: str, value):
    """A live change servo_node must refuse with a reason, keeping its value."""
    def run(trial: Trial) -> None:
        before = trial.probe.servo_parameter(name)
        result = trial.probe.set_servo_parameter(name, value)
        if trial.expect(not result.successful, f'{name} := {value!r} accepted'):
            trial.one_line(result.reason, 'the refusal')
            trial.saw(f'refused: {result.reason!r}')
        trial.expect(trial.probe.servo_parameter(name) == before, f'{name} changed although refused')
        trial.alive('servo_node')
    return run


def _twist_msg(values):
    from geometry_msgs.msg import TwistStamped

    from ..nodes.msg_conversions import array_to_twist

    msg = TwistStamped(twist=array_to_twist(values))
    msg.header.frame_id = 'camera_optical_frame'
    return msg


def extreme_twist(values):
    """The probe moves the gantry with a good twist, then streams an extreme one in its place:
    the driver's commands stay finite and within its limits, and the gantry stops."""
    def run(trial: Trial) -> None:
        limit = np.asarray(trial.graph.parameters['gantry_driver']['max_velocity'], float)
        pose = trial.camera_pose()
        good = 0.05 if pose.pose.position.x < 0 else -0.05  # [m/s] along x, back towards the centre
        started = time.monotonic()
        trial.probe.stream_twist(_twist_msg((good, 0, 0, 0, 0, 0)))
        if not wait_until(lambda: trial.moving(started), 5.0):
            raise RowAborted('the gantry did not move with a good twist')
        time.sleep(SPEED_UP_S)
        injected = time.monotonic()
        trial.probe.stream_twist(_twist_msg(values))
        trial.halt(injected)
        time.sleep(max(0.0, injected + STREAM_S - time.monotonic()))
        trial.probe.stream_twist(None)
        velocities = np.array([msg.velocity for _, msg in trial.probe.joint_states.since(started)], float)
        if trial.expect(velocities.size > 0, 'no /joint_states') \
                and trial.expect(np.isfinite(velocities).all(), 'non-finite joint velocity') \
                and trial.expect((np.abs(velocities) <= limit * (1 + 1e-9)).all(),
                                 f'joint speeds {np.abs(velocities).max(axis=0).tolist()} above max_velocity'):
            trial.saw('joint speeds finite, within max_velocity')
        statuses = trial.gantry_statuses(injected)
        trial.saw(f'driver {"/".join(dict.fromkeys(statuses)) or "status unchanged"}')
        trial.alive('gantry_driver')
    return run


def startup_failure(parameters: Callable[[Path], dict]):
    """servo_node started alone with a bad parameter file: exit 2, one [FATAL] line, quickly."""
    def run(trial: Trial) -> None:
        import yaml

        from ..graph import NodeSpec, config_file

        path = trial.graph.folder / 'bad_parameters.yaml'
        path.write_text(yaml.safe_dump({'servo_node': {'ros__parameters': parameters(trial.graph.folder)}}))
        spec = NodeSpec('servo_node', 'servo_node', (str(config_file('servo.yaml')), str(path)))
        code, output, seconds = trial.graph.run_alone(spec, STARTUP_BOUND_S + 15)
        fatal = [line for line in output.splitlines() if '[FATAL]' in line]
        trial.expect(code == 2, f'exit code {code}, expected 2')
        if trial.expect(len(fatal) == 1, f'{len(fatal)} [FATAL] lines'):
            trial.reason(fatal[0])
        trial.expect('Traceback' not in output, 'a Traceback in its output')
        trial.expect(seconds <= STARTUP_BOUND_S, f'took {seconds:.1f} s > {STARTUP_BOUND_S:g} s')
        trial.saw(f'exit {code} after {seconds:.1f} s, {len(fatal)} [FATAL] line(s)')
    return run


def _truncated_model(folder: Path) -> dict:
    from ..resources import default_model_path

    data = Path(default_model_path('aevs')).read_bytes()
    path = folder / 'truncated.pt'
    path.write_bytes(data[:len(data) // 2])
    return {'method': 'aevs', 'model_path': str(path)}


def _random_model(folder: Path) -> dict:
    path = folder / 'random.pt'
    path.write_bytes(np.random.default_rng(0).bytes(64 << 10))
    return {'method': 'aevs', 'model_path': str(path)}


HALTS = f'zero joint velocity within {HALT_BOUND_S:g} s'
NAN, INF = float('nan'), float('inf')
ROWS = [
    Row('servo_killed', 'servo_node SIGKILL mid-motion', f'{HALTS} (command_timeout); renderer, driver alive; '
        'a restarted servo servoes', 'servo', servo_killed),
    Row('servo_frozen', 'servo_node SIGSTOP, SIGCONT', f'{HALTS}; after SIGCONT it resumes or faults with a reason',
        'servo', servo_frozen),
    Row('estop', 'e-stop mid-motion', f'{HALTS}, status ESTOP; moves again on release', 'servo', estop),
    Row('renderer_killed', 'planar_renderer SIGKILL', f"FAULT 'stale camera', zero twist, {HALTS}; "
        'recovers when restarted', 'camera', renderer_lost('kill')),
    Row('renderer_frozen', 'planar_renderer SIGSTOP, SIGCONT', f"FAULT 'stale camera', zero twist, {HALTS}; "
        'recovers on SIGCONT', 'camera', renderer_lost('freeze')),
    *(Row(key, fault, f'FAULT {text!r}, zero twist, {HALTS}; recovers on good frames', 'camera', bad_frames(key))
      for key, (fault, _, text) in BAD_FRAMES.items()),
    Row('goal_before_frame', 'goal: 640x480 before the first frame', 'refused; then a good goal is servoed',
        'goals', goal_before_first_frame, nodes=GROUPS['goals']),
    Row('goal_grey', 'goal: uniform grey', "refused: 'too little texture'; servo alive", 'goals',
        refused_goal(_grey_goal, 'too little texture')),
    Row('goal_other_camera', 'goal: camera_info of another geometry', "refused: 'another camera'; servo alive",
        'goals', refused_goal(_other_camera_goal, 'another camera')),
    Row('goal_nan', 'goal: NaN pixels', "refused: 'NaN'; servo alive", 'goals', refused_goal(_nan_goal, 'NaN')),
    Row('param_gain', 'live parameter gain -1', 'refused with a reason, value kept', 'goals',
        refused_parameter('gain', -1.0)),
    Row('param_interaction', "live parameter interaction 'sideways'", 'refused with a reason, value kept', 'goals',
        refused_parameter('interaction', 'sideways')),
    Row('param_image_timeout', 'live parameter image_timeout 0', 'refused with a reason, value kept', 'goals',
        refused_parameter('image_timeout', 0.0)),
    *(Row(f'twist_{key}', f'/servo/twist {text} mid-motion', f'joint velocities finite, within max_velocity; '
          f'{HALTS}; driver alive', 'twists', extreme_twist(values), nodes=GROUPS['twists'])
      for key, text, values in (('huge', 'linear.x 1.7e308', (1.7e308, 0, 0, 0, 0, 0)),
                                ('nan', 'linear.x NaN', (NAN, 0, 0, 0, 0, 0)),
                                ('inf', 'angular.z inf', (0, 0, 0, 0, 0, INF)),
                                ('subnormal', 'all 5e-324', (5e-324,) * 6))),
    Row('imperfect_renderer_killed', 'planar_renderer SIGKILL, every camera imperfection on',
        f"FAULT 'stale camera', zero twist, {HALTS}; recovers when restarted", 'imperfect', renderer_lost('kill')),
    Row('startup_gain', 'start-up parameter file gain -1.0', f'exit 2, one [FATAL] line, within {STARTUP_BOUND_S:g} s',
        'start-up', startup_failure(lambda folder: {'gain': -1.0}), nodes=()),
    Row('startup_truncated_model', 'start-up model_path: truncated .pt', f'exit 2, one [FATAL] line, within '
        f'{STARTUP_BOUND_S:g} s', 'start-up', startup_failure(_truncated_model), nodes=()),
    Row('startup_random_model', 'start-up model_path: random bytes .pt', f'exit 2, one [FATAL] line, within '
        f'{STARTUP_BOUND_S:g} s', 'start-up', startup_failure(_random_model), nodes=()),
]


# -- running rows -----------------------------------------------------------------------------------

def non_finite(probe: Probe, start: float, end: float) -> dict[str, int]:
    """Messages holding NaN or inf, per topic, that arrived between ``start`` and ``end``."""
    def pose_values(msg):
        p, q = msg.pose.position, msg.pose.orientation
        return [p.x, p.y, p.z, q.x, q.y, q.z, q.w]

    sources = {'/joint_states': (probe.joint_states.since(start, end),
                                 lambda msg: [*msg.position, *msg.velocity, *msg.effort]),
               '/servo/twist': (probe.servo_twists(start, end), twist_values),
               '/gantry/camera_pose': (probe.poses.since(start, end), pose_values)}
    counts = {topic: sum(1 for _, msg in messages if not np.isfinite(values(msg)).all())
              for topic, (messages, values) in sources.items()}
    return {topic: count for topic, count in counts.items() if count}


class MatrixRunner:
    """Runs rows in order; the rows of a group share a SimGraph and a Probe, started for its
    first row and stopped before the next group's. ``log_dir``: the node logs of a group with
    a failed row are copied to ``log_dir/<group>``."""

    def __init__(self, log_dir: Path | None = None):
        self.log_dir = log_dir
        self.group = self.graph = self.probe = None
        self.waiting = ()  # nodes of the group just started, not yet heard from
        self._group_stack = contextlib.ExitStack()

    def __enter__(self) -> 'MatrixRunner':
        return self

    def __exit__(self, *_exc):
        self._group_stack.close()

    def _open_group(self, group: str) -> None:
        self._group_stack.close()
        self.group = None
        self.graph = self._group_stack.enter_context(SimGraph(GROUPS[group], GROUP_OVERRIDES.get(group)))
        self.probe = self._group_stack.enter_context(Probe(self.graph.domain_id))
        self.group, self.waiting = group, GROUPS[group]

    def run(self, row: Row) -> dict:
        started = time.monotonic()
        if row.group != self.group:
            self._open_group(row.group)
        trial = Trial(self.graph, self.probe)
        sizes = self.graph.log_sizes()
        begun = time.monotonic()
        try:
            for name in list(self.graph.frozen):
                self.graph.thaw(name)
            for name in self.waiting:
                trial.ready(name, 0.0)
            self.waiting = ()
            for name in row.nodes:
                if not self.graph.alive(name):
                    self.graph.start(name)
                    trial.ready(name, begun)
            row.run(trial)
        except Exception as exc:  # noqa: BLE001 - a row that cannot go on fails, the matrix goes on
            trial.failures.append(f'aborted: {" ".join(str(exc).split())}')
        finally:
            self.probe.stream_frames(None)
            self.probe.stream_twist(None)
        ended = time.monotonic()
        bad_values = non_finite(self.probe, begun, ended)
        trial.expect(not bad_values, f'non-finite values on {bad_values}')
        tracebacks = {name: text.count('Traceback') for name, text in self.graph.output_since(sizes).items()}
        tracebacks = {name: count for name, count in tracebacks.items() if count}
        trial.expect(not tracebacks, f'Traceback in the output of {tracebacks}')
        dead = [name for name in self.graph.processes if not self.graph.alive(name)]
        trial.expect(not dead, f'not running at the end of the row: {", ".join(dead)}')
        if trial.failures and self.log_dir is not None:
            self.graph.save_logs_to = Path(self.log_dir) / row.group
        return {'key': row.key, 'fault': row.fault, 'group': row.group, 'expected': row.expected,
                'observed': '; '.join(trial.facts), 'failures': trial.failures, 'passed': not trial.failures,
                'time_to_zero_s': trial.time_to_zero, 'reasons': trial.reasons,
                'non_finite': sum(bad_values.values()), 'tracebacks': sum(tracebacks.values()),
                'wall_s': time.monotonic() - started}


# -- the command ------------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, 'faults', 'fault injection on the running sim graph: halts, fault reasons, recovery', __doc__,
        '\n\nexamples:\n  aevs bench faults\n  aevs bench faults --only image --json /tmp/faults_images.json')
    parser.add_argument('--only', default='', metavar='TEXT',
                        help='only the rows whose key, fault or group contains TEXT')
    parser.add_argument('--json', default=None, help=f'result JSON (default {DEFAULT_OUT}/faults.json)')
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder: figure, logs (default %(default)s)')
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.outcome import write_json

    rows = [row for row in ROWS if args.only in row.key or args.only in row.fault or args.only in row.group]
    if not rows:
        print(f'aevs bench faults: error: no row matches {args.only!r}')
        return 2
    path = output_path(args.out, args.json, 'faults')
    print(f'fault injection on the sim graph: {len(rows)} row(s); zero velocity = every joint below '
          f'{ZERO_VELOCITY:g} for {HOLD_S:g} s, within {HALT_BOUND_S:g} s')
    print(ROW_HEADER)
    started, results = time.monotonic(), []
    with MatrixRunner(log_dir=Path(args.out) / f'{path.stem}_logs') as runner:
        for row in rows:
            results.append(runner.run(row))
            print(format_row(results[-1]), flush=True)
    wall = time.monotonic() - started
    figure = plot_faults(results, Path(args.out) / f'{path.stem}.png')
    report = {'benchmark': 'faults', 'machine': machine_info(), 'halt_bound_s': HALT_BOUND_S, 'hold_s': HOLD_S,
              'zero_velocity': ZERO_VELOCITY, 'passed': sum(r['passed'] for r in results), 'rows_run': len(results),
              'tracebacks': sum(r['tracebacks'] for r in results),
              'non_finite': sum(r['non_finite'] for r in results), 'wall_s': wall, 'rows': results,
              'figure': str(figure)}
    print(f"  {report['passed']} of {len(results)} rows pass; tracebacks: {report['tracebacks']}; "
          f"non-finite values: {report['non_finite']}; wall {wall:.0f} s")
    write_json(report, path)
    print(f'  results: {path}\n  figure: {figure}')
    return 0 if report['passed'] == len(results) else 1


ROW_HEADER = f"  {'fault':<40} {'result':>6} {'zero v ms':>9}  expected / observed"


def format_row(result: dict) -> str:
    """Two lines: fault, pass/FAIL, time to zero and the expectation; then what was observed."""
    ms = f"{result['time_to_zero_s'] * 1e3:.0f}" if result['time_to_zero_s'] is not None else '-'
    observed = result['observed'] + ''.join(f'; FAILED: {failure}' for failure in result['failures'])
    return (f"  {result['fault']:<40} {'pass' if result['passed'] else 'FAIL':>6} {ms:>9}  {result['expected']}\n"
            f"  {'':<57}  -> {observed}")


def plot_faults(results: list[dict], path) -> Path:
    """Time to zero joint velocity per row (green: passed, red: failed), with the bound; rows
    without a halt show their verdict only."""
    from .plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(results) + 2.5))
    y = np.arange(len(results))[::-1]
    times = [1e3 * (r['time_to_zero_s'] or 0.0) for r in results]
    ax.barh(y, times, color=['tab:green' if r['passed'] else 'tab:red' for r in results])
    for yi, r, ms in zip(y, results, times):
        label = ('pass' if r['passed'] else 'FAIL') + (f'  {ms:.0f} ms' if r['time_to_zero_s'] is not None else '')
        ax.text(ms + 20, yi, label, va='center', fontsize=7, color='black' if r['passed'] else 'tab:red')
    ax.axvline(HALT_BOUND_S * 1e3, color='k', lw=0.8, ls='--')
    ax.set_yticks(y, [r['fault'] for r in results], fontsize=7)
    ax.set_xlim(0, HALT_BOUND_S * 1e3 * 1.15)
    ax.set_xlabel(f'time to zero joint velocity [ms] (dashed: the {HALT_BOUND_S:g} s bound)')
    passed = sum(r['passed'] for r in results)
    ax.set_title(f'fault injection on the sim graph: {passed} of {len(results)} rows pass', fontsize=9)
    return _save(fig, path)

