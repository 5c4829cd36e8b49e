"""ROS 2 nodes: thin adapters from messages to the ROS-free core (aevs_ros.core).

Each node module declares its parameters in one table of :class:`Param` (descriptions with
units, ranges, read-only structural settings), freezes them into a core dataclass, and its
callbacks do message -> NumPy -> one core call -> message. :func:`run` is the common
``main``: ``rclpy.init``, a multi-threaded executor, clean teardown, an exit code.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

JOIN_TIMEOUT_S = 1.0
SIGNAL_CHECK_PERIOD_S = 0.1
#: a node still tearing down this long after a stop request exits at once [s]
TEARDOWN_DEADLINE_S = 2.0
#: environment variable choosing the executor of every node (`aevs bench loop --executor`):
#: events (the default: rclpy's EventsExecutor, whose wait loop is C++ and holds no GIL; README
#: "Executors" has the measurements), single (SingleThreadedExecutor) or multi
#: (MultiThreadedExecutor, single-threaded where a node asks for one thread)
EXECUTOR_VARIABLE = 'AEVS_EXECUTOR'
EXECUTORS = ('events', 'single', 'multi')


@dataclass(frozen=True)
class Param:
    """One parameter: name, default (its type is the parameter's type) and documentation."""

    name: str
    default: object
    description: str
    read_only: bool = False
    low: float | None = None  #: inclusive bounds, for int and float parameters
    high: float | None = None
    choices: tuple[str, ...] = ()  #: allowed values of a string parameter

    def descriptor(self) -> ParameterDescriptor:
        descriptor = ParameterDescriptor(description=self.description, read_only=self.read_only)
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(self.choices)
        if self.low is not None and isinstance(self.default, bool):
            raise TypeError(f'{self.name}: a bool parameter has no range')
        if self.low is not None and isinstance(self.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)]
        elif self.low is not None:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(self.low), to_value=float(self.high), step=0.0)]
        return descriptor


def declare(node, params) -> dict:
    """Declare every :class:`Param` on ``node``; returns name -> value (overrides applied).

    Raises ValueError naming the parameter when a value is not one of its ``choices``.
    """
    node.declare_parameters('', [(param.name, param.default, param.descriptor()) for param in params])
    values = {param.name: node.get_parameter(param.name).value for param in params}
    for param in params:
        check_choice(param, values[param.name])
    return values


def check_choice(param: Param, value) -> None:
    if param.choices and value not in param.choices:
        raise ValueError(f'parameter {param.name} = {value!r}: choose one of {", ".join(param.choices)}')


def run(make_node, args=None, num_threads: int = 4) -> int:
    """``main`` of a node: build it, spin it until Ctrl-C / SIGTERM or until ``node.done``
    (an rclpy Future, if the node has one) completes; returns ``node.exit_code`` (default 0).

    Before the executor is shut down, ``node.stop()`` (if defined) ends long-running callbacks
    such as action executions, so that joining the executor's threads cannot hang.

    A node that cannot start (bad parameters, missing model) logs why and returns 2.
    """
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    from ..core.errors import AevsError

    # Our own SIGINT/SIGTERM handling: rclpy's would invalidate the context while callbacks
    # still publish. The first signal only asks the spin loop to end after the running
    # callback (an exception raised inside a callback could leave a lock held) and arms the
    # teardown deadline; a second SIGINT interrupts a running callback, a second SIGTERM kills. Installed even where SIGINT arrives ignored (children of background shell
    # jobs inherit SIG_IGN), so Ctrl-C and `ros2 launch` stop the node wherever it started.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop_requested = threading.Event()

    stop_signals = (signal.SIGINT, signal.SIGTERM)

    def request_stop(_signum, _frame):
        stop_requested.set()
        _exit_if_teardown_hangs()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts a callback
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills, even inside C code

    for stop_signal in stop_signals:
        signal.signal(stop_signal, request_stop)
    node = executor = None
    try:
        try:
            executor = make_executor(os.environ.get(EXECUTOR_VARIABLE, ''), num_threads)
            node = make_node()
        except (AevsError, ValueError, ParameterException) as exc:
            print(f'[FATAL] {os.path.basename(sys.argv[0])}: refusing to start: {_one_line(exc)}', file=sys.stderr)
            return 2
        executor.add_node(node)
        done = getattr(node, 'done', None)
        spin_until(executor, lambda: not rclpy.ok(context=executor.context) or stop_requested.is_set()
                   or (done is not None and done.done()))
        return int(getattr(node, 'exit_code', 0))
    except (KeyboardInterrupt, ExternalShutdownException):
        return int(getattr(node, 'exit_code', 0))
    finally:
        # Teardown is bounded by the watchdog: a further SIGINT must not cut it short (it would
        # skip the DDS clean-up), a further SIGTERM kills at once.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _exit_if_teardown_hangs()
        if node is not None and hasattr(node, 'stop'):
            node.stop()
        if executor is not None:
            stop_executor(executor)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        faulthandler.cancel_dump_traceback_later()


def spin_until(executor, should_stop) -> None:
    """Spin in short waits until ``should_stop()``: a stop request is seen within one wait,
    even in a node without timers (camera_node), which could otherwise wait in C until its
    next message. (The EventsExecutor's spin_until_future_complete does not notice a future
    completed by another thread.)"""
    while not should_stop():
        executor.spin_once(timeout_sec=SIGNAL_CHECK_PERIOD_S)


def _exit_if_teardown_hangs() -> None:
    """Exit hard, with every thread's stack on stderr, if teardown outlasts TEARDOWN_DEADLINE_S.

    faulthandler's watchdog is a C thread: it fires even when the main thread is stuck in
    middleware C code that never returns to Python (a node that ignored SIGINT and SIGTERM
    under `ros2 launch` had to be killed).
    """
    faulthandler.dump_traceback_later(TEARDOWN_DEADLINE_S, exit=True)


def make_executor(kind: str, num_threads: int, context=None):
    """The executor ``kind`` (one of EXECUTORS; '' = the first) with ``num_threads`` for multi."""
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    kind = kind or EXECUTORS[0]
    if kind not in EXECUTORS:
        raise ValueError(f'{EXECUTOR_VARIABLE}={kind!r}: choose one of {", ".join(EXECUTORS)}')
    if kind == 'events':
        from rclpy.experimental import EventsExecutor
        # it enables faulthandler on sys.stderr, which must be a real file (pytest's capsys is not)
        with contextlib.redirect_stderr(sys.__stderr__):
            return EventsExecutor(context=context)
    if kind == 'single' or num_threads <= 1:
        return SingleThreadedExecutor(context=context)
    return MultiThreadedExecutor(num_threads=num_threads, context=context)


def _one_line(exc: Exception) -> str:
    """rclpy's parameter errors span several lines: keep the sentence that says what is wrong."""
    return ' '.join(str(exc).split())


def stop_executor(executor, timeout: float = JOIN_TIMEOUT_S) -> None:
    """Shut down an executor that no longer spins, once its queued callbacks have run.

    rclpy 9's ``MultiThreadedExecutor.shutdown`` destroys the executor's guard condition
    before it joins its thread pool, so callbacks still queued or running then end with
    "exception never retrieved: cannot use Destroyable". Draining the pool first avoids it;
    long-running callbacks (action executions) must have been told to end (``node.stop()``).
    """
    # rclpy offers no public way to drain a MultiThreadedExecutor's pool (its constructor builds
    # the ThreadPoolExecutor and keeps it as _executor), so reach it; other executors have none
    pool = getattr(executor, '_executor', None)
    if pool is not None:
        pool.shutdown(wait=True)
    executor.shutdown(timeout_sec=timeout)
