"""The servo loop: one thread owns the ServoSession, callbacks only hand it work.

The shape of moveit_servo's node: the image callback puts the newest frame and its arrival
time into a one-slot mailbox (older frames are dropped), goal / pause / parameter changes are
queued calls answered through futures, and a dedicated loop thread runs them between steps.
So the executor is never busy with servo arithmetic and no lock is held across a step.

- The stale-camera fault is the loop's own wait on the mailbox timing out: it measures the
  time since the last frame *arrived*, never the time a slow step took.
- A guard thread reads only when the running step started: a step longer than
  ``step_timeout`` (overrun or hang) gets a zero twist and a FAULT status at once, and the
  twist that step computes late is dropped.
"""
from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import AevsError
from .servo import ZERO_TWIST, Fault, ServoCommand, ServoState
from .servo_session import ServoSession


@dataclass(frozen=True)
class LoopTimings:
    image_timeout: float = 0.5  #: [s] no frame arrived for this long: stale camera, FAULT
    step_timeout: float = 0.5  #: [s] a step running longer: zero twist now, its result dropped
    heartbeat: float = 1.0  #: [s] status period while no frame drives the loop
    debug_period: float = 0.5  #: [s] at most one debug output per period; 0 = none


class ServoLoop:
    """Runs ``session`` on its own thread; every method but the callbacks is thread-safe.

    ``decode(payload)`` turns a queued frame into a grey image (AevsError if unusable);
    ``publish(command, payload)`` sends a command (``payload`` is the frame it answers, or
    None); ``publish_debug(command, image, session, payload)`` the debug outputs of a step.
    """

    def __init__(self, session: ServoSession, decode: Callable, publish: Callable,
                 publish_debug: Callable | None = None, timings: LoopTimings = LoopTimings(),
                 log: Callable[[str], None] = lambda message: None, clock=time.monotonic):
        self.session, self.decode, self.publish, self.publish_debug = session, decode, publish, publish_debug
        self.timings, self.log, self.clock = timings, log, clock
        self._inbox = threading.Condition()
        self._frame = None  # (payload, arrival)
        self._calls = collections.deque()  # (function, future)
        self._info_camera = None
        self._closing = threading.Event()
        self._last_arrival = None  # of the newest frame put, even if it was never stepped
        self._stale = False
        self._output = threading.Condition()  # guards what follows, held only to publish
        self._step_started = None
        self._guard_reported = None
        self._last_publish = -np.inf
        self._last_debug = -np.inf
        self._published = 0  # count of commands published
        self.last_command = ServoCommand(ZERO_TWIST.copy(), ServoState.IDLE, 0, reason='waiting for camera images')
        self._threads = [threading.Thread(target=self._run, name='servo_loop', daemon=True),
                         threading.Thread(target=self._guard, name='servo_guard', daemon=True)]

    def start(self) -> 'ServoLoop':
        for thread in self._threads:
            thread.start()
        return self

    def close(self, timeout: float = 0.5) -> bool:
        """Stop both threads; False if the loop is stuck in a step (its daemon thread stays)."""
        self._closing.set()
        with self._inbox:
            self._inbox.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    # -- inputs (any thread) ------------------------------------------------------------------------
    def put_frame(self, payload) -> None:
        """The newest camera frame: replaces one not yet stepped; its arrival time is now."""
        with self._inbox:
            self._last_arrival = self.clock()
            self._frame = payload
            self._inbox.notify_all()

    def set_camera_info(self, camera) -> None:
        with self._inbox:
            self._info_camera = camera

    def set_timings(self, timings: LoopTimings) -> None:
        with self._inbox:
            self.timings = timings
            self._inbox.notify_all()

    def submit(self, function: Callable[[ServoSession], ServoCommand | None]) -> concurrent.futures.Future:
        """Run ``function(session)`` on the loop thread before the next step.

        The command it returns (if any) is published; the future holds that command, or the
        AevsError that refused the request.
        """
        future = concurrent.futures.Future()
        with self._inbox:
            self._calls.append((function, future))
            self._inbox.notify_all()
        return future

    def call(self, function, timeout: float) -> ServoCommand | None:
        """:meth:`submit` and wait; TimeoutError naming the running step if no answer in time."""
        try:
            return self.submit(function).result(timeout)
        except concurrent.futures.TimeoutError:
            started = self._step_started
            running = f': a step has been running for {self.clock() - started:.1f} s' if started else ''
            raise TimeoutError(f'the servo loop did not answer within {timeout:g} s{running}') from None

    @property
    def camera_is_stale(self) -> bool:
        return self._stale or self._last_arrival is None

    # -- outputs -----------------------------------------------------------------------------------
    def wait_published(self, after: int, timeout: float) -> tuple[int, ServoCommand]:
        """(count, command) of the newest command published, waiting up to ``timeout`` for one
        later than count ``after``."""
        with self._output:
            self._output.wait_for(lambda: self._published > after, timeout)
            return self._published, self.last_command

    def _publish(self, command: ServoCommand, payload=None) -> None:
        with self._output:
            self.publish(command, payload)
            self.last_command = command
            self._last_publish = self.clock()
            self._published += 1
            self._output.notify_all()

    # -- the loop thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing.is_set():
            with self._inbox:
                self._inbox.wait_for(lambda: self._frame is not None or self._calls or self._closing.is_set(),
                                     max(0.0, self._next_check() - self.clock()))
                frame, self._frame = self._frame, None
                calls, self._calls = self._calls, collections.deque()
                info_camera, timings = self._info_camera, self.timings
            for function, future in calls:
                self._answer(function, future)
            if frame is not None:
                self._step(frame, info_camera, timings)
            elif not calls:
                self._check_camera(timings)

    def _next_check(self) -> float:
        """When to look at the camera again if nothing arrives: the stale deadline or a heartbeat."""
        heartbeat = self._last_publish + self.timings.heartbeat
        if self._last_arrival is None or self._stale:
            return heartbeat
        return min(heartbeat, self._last_arrival + self.timings.image_timeout)

    def _answer(self, function, future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            command = function(self.session)
        except Exception as exc:  # noqa: BLE001 - a refusal (AevsError) or a bug: the caller gets it
            future.set_exception(exc)
            return
        if command is not None:
            self._publish(command)
        future.set_result(command)

    def _step(self, payload, info_camera, timings: LoopTimings) -> None:
        started = self.clock()
        with self._output:
            self._step_started = started
        self._stale = False
        image = None
        try:
            command, image = self.session.step(self.decode(payload), info_camera)
        except AevsError as exc:
            command = self.session.fault(str(exc))
        except Exception as exc:  # noqa: BLE001 - a failing feature faults, the loop goes on
            self.log(f'servo step failed: {type(exc).__name__}: {exc}')
            command = self.session.fault(f'servo step failed: {type(exc).__name__}: {exc}', Fault.STEP_FAILED)
        elapsed = self.clock() - started
        with self._output:
            self._step_started = None
            if elapsed > timings.step_timeout:
                command = self.session.fault(f'servo step took {elapsed:.2f} s, longer than step_timeout '
                                             f'{timings.step_timeout:g} s: its twist was dropped', Fault.STEP_TIMEOUT)
            self._publish(command, payload)
        if (self.publish_debug is not None and image is not None and command.state is not ServoState.FAULT
                and timings.debug_period > 0 and started - self._last_debug >= timings.debug_period):
            self._last_debug = started
            self.publish_debug(command, image, self.session, payload)

    def _check_camera(self, timings: LoopTimings) -> None:
        """No frame since the last look: stale-camera FAULT, or a status heartbeat."""
        now = self.clock()
        if self._last_arrival is None:
            if now - self._last_publish >= timings.heartbeat:
                self._publish(ServoCommand(ZERO_TWIST.copy(), self.session.state, 0, reason='waiting for camera images'))
            return
        age = now - self._last_arrival
        if age > timings.image_timeout:
            if not self._stale or now - self._last_publish >= timings.heartbeat:
                self._stale = True
                self._publish(self.session.fault(f'stale camera: no image for {age:.2f} s '
                                                 f'(image_timeout {timings.image_timeout:g} s)', Fault.STALE_CAMERA))
        elif now - self._last_publish >= timings.heartbeat:
            self._publish(ServoCommand(ZERO_TWIST.copy(), self.session.state, self.session.iteration))

    # -- the guard thread ---------------------------------------------------------------------------
    def _guard(self) -> None:
        """Zero twist while a step overruns step_timeout, then at every heartbeat."""
        while not self._closing.wait(min(0.05, self.timings.step_timeout / 4)):
            with self._output:
                started, timings = self._step_started, self.timings
                if started is None:
                    continue
                running = self.clock() - started
                if running <= timings.step_timeout:
                    continue
                if self._guard_reported != started or self.clock() - self._last_publish >= timings.heartbeat:
                    self._guard_reported = started
                    self._publish(ServoCommand(
                        ZERO_TWIST.copy(), ServoState.FAULT, self.last_command.iteration,
                        reason=f'servo step running for {running:.2f} s, longer than step_timeout '
                               f'{timings.step_timeout:g} s: halted', fault=Fault.STEP_TIMEOUT))
