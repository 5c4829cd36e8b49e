"""`aevs launch sim|real`: run a node graph of aevs_ros/graph.py as processes, without `launch`.

Where ROS 2's `launch` is installed, `ros2 launch aevs_ros servo_sim.launch.py` starts the same
nodes with the same parameter files (both read graph.py). This command starts each node
executable with `--ros-args --params-file ... -p ...`, forwards SIGINT/SIGTERM, tears every
node down (bounded: SIGINT, then SIGTERM, then SIGKILL) and exits non-zero if a node dies on
its own. In the sim graph, sim_scenario ends the run: its exit code (0 = converged) is ours.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..core.features.registry import FEATURE_FAMILIES

DESCRIPTION = """\
Start the simulated or the real node graph (see README "ROS 2 graph"). The sim graph renders
a camera above a planar scene, servoes it from the preset's start pose back to its goal view,
prints the outcome and exits (0 = converged). The real graph runs until Ctrl-C.

exit codes:
  0  sim: converged; real: stopped by Ctrl-C, SIGTERM or --timeout (also sim after Ctrl-C)
  1  sim: not converged, or no outcome within --timeout + 20 s
  2  a bad option or preset (nothing was started), or sim_scenario could not run
  N  a node died on its own with code N (1 if it exited with 0)

examples:
  aevs launch sim                                  # DVS, config/sim.yaml
  aevs launch sim --method aevs --json out/sim.json
  aevs launch sim --keep-running                   # stay up after the outcome (try aevs set-goal)
  aevs launch real --params my_robot.yaml          # camera_node + gantry_driver + servo_node
  aevs launch sim --print                          # the node commands, without running them
  aevs launch sim --graph-png graph.png            # a picture of the graph
"""
#: after SIGINT, then after SIGTERM: how long the nodes get to exit [s]
TEARDOWN_S = (5.0, 3.0)
#: `aevs launch --timeout S` leaves the nodes this much longer than sim_scenario's own timeout
TIMEOUT_MARGIN_S = 20.0


GRAPHS = ('sim', 'real')  # graph.GRAPHS (not imported here: every `aevs` call imports this module)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'launch', help='run the sim or real ROS 2 node graph as processes (no ROS launch needed)',
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('graph', choices=GRAPHS, help='which graph')
    parser.add_argument('--params', metavar='FILE', default='',
                        help='scenario preset (default config/sim.yaml or config/real.yaml)')
    parser.add_argument('--method', choices=FEATURE_FAMILIES, default='', help="feature family (default: preset's)")
    parser.add_argument('--model', default='', metavar='PATH', help='model file of pca/aevs')
    parser.add_argument('--scene', default='', metavar='PATH', help='sim: scene image file')
    parser.add_argument('--json', default='', metavar='PATH', help='sim: write the outcome JSON there')
    parser.add_argument('--timeout', type=float, default=0.0, metavar='S',
                        help="sim: give up after S seconds of servoing (default: the preset's); "
                             'real: stop the graph after S seconds')
    parser.add_argument('--keep-running', action='store_true',
                        help='sim: keep the nodes running after the outcome, until Ctrl-C')
    parser.add_argument('--print', action='store_true', help='print the node commands and exit')
    parser.add_argument('--graph-png', metavar='PATH', help='draw the graph to a PNG and exit')
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import graph

    sim_only = [option for option, value in (('--scene', args.scene), ('--json', args.json),
                                              ('--keep-running', args.keep_running)) if value]
    if args.graph == 'real' and sim_only:
        print(f"aevs launch: error: {', '.join(sim_only)}: for the sim graph only", file=sys.stderr)
        return 2
    if not math.isfinite(args.timeout) or args.timeout < 0:
        print(f"aevs launch: error: --timeout needs a finite number of seconds >= 0 (0 = the preset's), "
              f'got {args.timeout:g}', file=sys.stderr)
        return 2
    try:
        if args.graph_png:
            print(f'aevs launch: {args.graph} graph drawn to {graph.draw_graph(args.graph, args.graph_png)}')
            return 0
        specs = graph.build_graph(args.graph, params_file=args.params, method=args.method, model=args.model,
                                  scene=args.scene, json=args.json, keep_running=args.keep_running,
                                  timeout=args.timeout)
        commands = [command_line(spec) for spec in specs]
        if args.json and not args.print:
            Path(args.json).unlink(missing_ok=True)  # never report a previous run's outcome
    except (OSError, ValueError) as exc:
        print(f'aevs launch: error: {exc}', file=sys.stderr)
        return 2
    if args.print:
        for command in commands:
            print(' '.join(command))
        return 0
    if args.graph == 'sim':
        deadline = args.timeout + TIMEOUT_MARGIN_S if args.timeout else None
        code = run_graph(specs, commands, deadline)
    else:
        code = run_graph(specs, commands, args.timeout or None, on_deadline=0)
    if args.json and Path(args.json).is_file():
        import json

        from ..core.outcome import format_outcome
        print(format_outcome(json.loads(Path(args.json).read_text())))
    return code


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
