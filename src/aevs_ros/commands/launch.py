"""`aevs launch sim|real`: run a node graph of aevs_ros/graph.py as processes, without `launch`.

Where ROS 2's `launch` is installed, `ros2 launch aevs_ros servo_sim.launch.py` starts the same
nodes with the same parameter files (both read graph.py). This command starts each node
executable with `--ros-args --params-file ... -p ...`, forwards SIGINT/SIGTERM, tears every
node down (bounded: SIGINT, then SIGTERM, then SIGKILL) and exits non-zero if a node dies on
its own (aevs_ros.graph_processes). In the sim graph, sim_scenario ends the run: its exit
code (0 = converged) is ours.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..core.features.registry import FEATURE_FAMILIES, LEARNED_FAMILIES

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


GRAPHS = ('sim', 'real')  # graph.GRAPHS (not imported here: every `aevs` call imports this module)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'launch', help='run the sim or real ROS 2 node graph as processes (no ROS launch needed)',
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('graph', choices=GRAPHS, help='which graph')
    parser.add_argument('--params', metavar='FILE', default='',
                        help='scenario preset (default config/sim.yaml or config/real.yaml)')
    parser.add_argument('--method', choices=FEATURE_FAMILIES, default='', help="feature family (default: preset's)")
    parser.add_argument('--model', default='', metavar='PATH', help=f"model file of {'/'.join(LEARNED_FAMILIES)}")
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
    from ..graph_processes import TIMEOUT_MARGIN_S, command_line, run_graph

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
            from ..graph_picture import draw_graph

            print(f'aevs launch: {args.graph} graph drawn to {draw_graph(args.graph, args.graph_png)}')
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
