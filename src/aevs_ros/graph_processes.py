"""The nodes of a graph (graph.build_graph) run as processes, without ROS's `launch`.

Each node executable is looked up the way `ros2 run` does and started with its
``--ros-args``; :func:`run_graph` supervises them (a node that ends the graph, a node that
dies, SIGINT/SIGTERM, a deadline) and tears every one down, each wait bounded. `aevs launch`
and the benchmarks that run the sim graph (soak, loop, injection) share it.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

#: after SIGINT, then after SIGTERM: how long the nodes get to exit [s]
TEARDOWN_S = (5.0, 3.0)
#: `aevs launch --timeout S` leaves the nodes this much longer than sim_scenario's own timeout
TIMEOUT_MARGIN_S = 20.0


# -- executables -----------------------------------------------------------------------------------

def resolve_executable(package: str, executable: str) -> list[str]:
    """How to start a node executable, looked up the way `ros2 run` does, then in this venv.

    1. ``<prefix>/lib/<package>/<executable>`` for each prefix of AMENT_PREFIX_PATH (colcon
       and ROS installs); 2. next to this Python (a venv's bin/, where `pip install -e` puts
       console scripts); 3. the module ``<package>.nodes.<executable>`` run by this Python.
    """
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        candidate = Path(prefix, 'lib', package, executable)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    candidate = Path(sys.executable).parent / executable
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    module = f'{package}.nodes.{executable}'
    if importlib.util.find_spec(f'{package}.nodes') and importlib.util.find_spec(module):
        return [sys.executable, '-m', module]
    raise FileNotFoundError(f'executable {executable!r} of package {package!r} not found: not in '
                            f'<prefix>/lib/{package} of AMENT_PREFIX_PATH, nor in {Path(sys.executable).parent}')


def command_line(spec) -> list[str]:
    return [*resolve_executable(spec.package, spec.executable), *spec.ros_arguments()]


# -- processes -------------------------------------------------------------------------------------

def run_graph(specs, commands, deadline_s: float | None = None, output=None, on_deadline: int = 1) -> int:
    """Run the nodes until one ends the graph, one dies, a signal arrives or the deadline passes.

    Returns the ending node's exit code (sim_scenario: 0 = converged), 0 after SIGINT/SIGTERM,
    the node's code (or 1) if a node died, ``on_deadline`` if the deadline passed. ``output``: a
    file for the nodes' stdout and stderr (default: this process's).
    """
    stop = threading.Event()
    received = []

    def on_signal(signum, _frame):
        received.append(signum)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    processes = []
    try:
        for spec, command in zip(specs, commands):
            process = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True)
            processes.append((spec, process))
        return _supervise(processes, stop, received, deadline_s, on_deadline)
    finally:
        teardown([process for _, process in processes])
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _supervise(processes, stop: threading.Event, received: list, deadline_s: float | None,
               on_deadline: int) -> int:
    started = time.monotonic()
    names = ', '.join(f'{spec.name} (pid {process.pid})' for spec, process in processes)
    print(f'aevs launch: started {names} (Ctrl-C stops them)', flush=True)
    while not stop.wait(0.1):
        for spec, process in processes:
            code = process.poll()
            if code is None:
                continue
            if spec.ends_graph:
                print(f'aevs launch: {spec.name} finished (exit code {code}); stopping the graph', flush=True)
                return code
            print(f'aevs launch: {spec.name} exited unexpectedly with code {code}; stopping the graph',
                  file=sys.stderr, flush=True)
            return code or 1
        if deadline_s is not None and time.monotonic() - started > deadline_s:
            print(f'aevs launch: timeout after {deadline_s:g} s; stopping the graph', file=sys.stderr, flush=True)
            return on_deadline
    print(f'aevs launch: {signal.Signals(received[0]).name} received; stopping the graph', flush=True)
    return 0


def teardown(processes, timeouts=TEARDOWN_S) -> None:
    """SIGINT every running process group, then SIGTERM, then SIGKILL, each wait bounded."""
    for signum, timeout in ((signal.SIGINT, timeouts[0]), (signal.SIGTERM, timeouts[1]), (signal.SIGKILL, 2.0)):
        running = [process for process in processes if process.poll() is None]
        if not running:
            return
        for process in running:
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
