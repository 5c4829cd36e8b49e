"""ServoLoop without ROS: slow and hung steps, a stale camera, queued calls, newest frame only.

Frames are core images; a ``decode`` that sleeps or blocks stands for a slow or hung step
(it runs inside the step, as image conversion does in the node).
"""
import threading
import time

import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import AevsError
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import ServoState
from aevs_ros.core.servo_loop import LoopTimings, ServoLoop
from aevs_ros.core.servo_session import ServoSession, SessionConfig

CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
WAIT_S = 10.0


@pytest.fixture(scope='module')
def views():
    scene = PlanarScene.load()
    start = se3.displaced(GOAL, (0.01, -0.01, 0.005, 1.0, -1.0, 0.5))
    return scene.render(CAMERA, GOAL).image, scene.render(CAMERA, start).image


class Recorder:
    """The loop's outputs: (time, command, frame answered) in order."""

    def __init__(self):
        self.lock, self.items = threading.Lock(), []

    def __call__(self, command, frame):
        with self.lock:
            self.items.append((time.monotonic(), command, frame))

    def since(self, start):
        with self.lock:
            return [(command, frame) for t, command, frame in self.items if t >= start]

    def wait(self, predicate, start=0.0, timeout=WAIT_S):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [item for item in self.since(start) if predicate(*item)]
            if found:
                return found[0]
            time.sleep(0.01)
        return None


class Camera:
    """Puts a frame into the loop every period, like a 30 Hz camera."""

    def __init__(self, loop, image, period=1 / 30):
        self.loop, self.image, self.period = loop, image, period
        self.running, self.count = threading.Event(), 0
        self.running.set()
        self.stopped = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopped.wait(self.period):
            if self.running.is_set():
                self.count += 1
                self.loop.put_frame((self.count, self.image))


@pytest.fixture
def make_loop():
    made = []

    def make(decode=lambda frame: frame[1], **timings):
        recorder = Recorder()
        session = ServoSession(SessionConfig('dvs'))
        loop = ServoLoop(session, decode, recorder, timings=LoopTimings(**timings)).start()
        loop.set_camera_info(CAMERA)
        made.append(loop)
        return loop, recorder

    yield make
    for loop in made:
        assert loop.close(), 'the loop did not stop'


def servoing(command, _frame):
    return command.state is ServoState.SERVOING and command.iteration > 0


def test_slow_step_is_no_stale_camera(make_loop, views):
    """Steps of 0.4 s, longer than image_timeout 0.2 s and shorter than step_timeout: servoing
    goes on with real twists, no FAULT."""
    slow = threading.Event()

    def decode(frame):
        if slow.is_set():
            time.sleep(0.4)
        return frame[1]

    loop, recorder = make_loop(decode, image_timeout=0.2, step_timeout=1.0)
    camera = Camera(loop, views[1])
    assert recorder.wait(lambda c, f: c.state is ServoState.IDLE and f is not None)
    loop.call(lambda session: session.set_goal(views[0]), WAIT_S)
    assert recorder.wait(servoing)
    slow.set()
    start = time.monotonic()
    time.sleep(2.0)
    camera.stopped.set()
    answered = [(c, f) for c, f in recorder.since(start) if f is not None]
    assert len(answered) >= 3
    assert all(c.state is ServoState.SERVOING and np.linalg.norm(c.velocity) > 0 for c, _ in answered)
    assert not [c.reason for c, _ in recorder.since(start) if c.state is ServoState.FAULT]


def test_hung_step_gets_a_zero_twist_from_the_guard_then_recovers(make_loop, views):
    release, hang = threading.Event(), threading.Event()

    def decode(frame):
        if hang.is_set():
            hang.clear()
            release.wait(WAIT_S)
        return frame[1]

    loop, recorder = make_loop(decode, image_timeout=0.5, step_timeout=0.3)
    Camera(loop, views[1])
    assert recorder.wait(lambda c, f: f is not None)
    loop.call(lambda session: session.set_goal(views[0]), WAIT_S)
    assert recorder.wait(servoing)
    hang.set()
    hung_at = time.monotonic()
    halted = recorder.wait(lambda c, f: c.state is ServoState.FAULT and 'step_timeout' in c.reason, hung_at)
    assert halted is not None and not np.any(halted[0].velocity) and halted[1] is None
    with pytest.raises(TimeoutError, match='a step has been running'):
        loop.call(lambda session: session.pause(True), 0.2)
    released_at = time.monotonic()
    release.set()
    late = recorder.wait(lambda c, f: f is not None, released_at)
    assert late[0].state is ServoState.FAULT and 'its twist was dropped' in late[0].reason
    assert not np.any(late[0].velocity)
    # the pause queued during the hang ran after it: PAUSED, zero twists
    assert recorder.wait(lambda c, f: c.state is ServoState.PAUSED and f is not None, released_at)
    loop.call(lambda session: session.pause(False), WAIT_S)
    assert recorder.wait(servoing, time.monotonic())


def test_stale_camera_fault_measures_arrivals_then_recovers(make_loop, views):
    loop, recorder = make_loop(image_timeout=0.3)
    camera = Camera(loop, views[1])
    assert recorder.wait(lambda c, f: f is not None)
    loop.call(lambda session: session.set_goal(views[0]), WAIT_S)
    assert recorder.wait(servoing)
    camera.running.clear()
    stopped = time.monotonic()
    stale = recorder.wait(lambda c, f: c.state is ServoState.FAULT, stopped)
    assert stale is not None and stale[0].reason.startswith('stale camera: no image for 0.3')
    assert not np.any(stale[0].velocity)
    assert loop.camera_is_stale
    with pytest.raises(AevsError, match='no camera frame|stale'):
        loop.call(lambda session: _refuse_if_stale(loop, session), WAIT_S)
    camera.running.set()
    assert recorder.wait(servoing, time.monotonic())


def _refuse_if_stale(loop, session):
    if loop.camera_is_stale:
        raise AevsError('stale')
    return session.set_goal(None)


def test_only_the_newest_frame_is_stepped(make_loop, views):
    gate = threading.Event()
    gate.set()

    def decode(frame):
        gate.wait(WAIT_S)
        return frame[1]

    loop, recorder = make_loop(decode, step_timeout=5.0)
    loop.put_frame((0, views[1]))
    assert recorder.wait(lambda c, f: f is not None)
    gate.clear()
    loop.put_frame((1, views[1]))  # stepped, held at the gate
    time.sleep(0.1)
    for index in range(2, 50):
        loop.put_frame((index, views[1]))
    gate.set()
    assert recorder.wait(lambda c, f: f is not None and f[0] == 49)
    stepped = [f[0] for c, f in recorder.since(0.0) if f is not None]
    assert stepped == [0, 1, 49]


def test_refused_call_reaches_the_caller_and_the_loop_goes_on(make_loop, views):
    loop, recorder = make_loop()
    with pytest.raises(AevsError, match='no camera frame yet'):
        loop.call(lambda session: session.set_goal(views[0]), WAIT_S)
    loop.put_frame((0, views[1]))
    assert recorder.wait(lambda c, f: f is not None)


def test_heartbeat_while_no_camera(make_loop):
    loop, recorder = make_loop()
    beat = recorder.wait(lambda c, f: c.reason == 'waiting for camera images', 0.0, timeout=3.0)
    assert beat is not None and beat[1] is None and not np.any(beat[0].velocity)
