"""`aevs bench soak`: the sim graph run many times, to count the runs that go wrong.

One sim run (`aevs launch sim`) says little about a servo that fails one time in ten. Each run
here starts the graph as `aevs launch sim --json` does (graph.py, commands/launch.run_graph),
in a ROS domain of its own (discovery limited to this machine, logs in a temporary folder),
and records the outcome sim_scenario writes (core/outcome.py): converged or not, the stop
reason (numbers stripped so that reasons group), iterations, final error, time. A listener in
this process counts the gantry_driver's NO_COMMAND reports (no fresh twist in time) while the
servo was SERVOING: the servo too slow for the driver's watchdog.

--load N runs N busy processes (bench/load.py) throughout. The goals (every run converges, no
NO_COMMAND while SERVOING) are reported as pass/fail, never enforced. Beside the JSON, in --out:
a figure (<json name>.png) and the node output of each run that did not converge
(<json name>_logs/).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from . import DEFAULT_OUT, METHODS, benchmark_parser, machine_info, missing_model, model_paths, output_path
from ..ros_domain import environment, local_domain_variables, reserved_domain_id
from .load import busy_processes, load_argument

JOIN_TIMEOUT_S = 5.0
#: a number not glued to a preceding letter (so 'mono16' stays): '1.23', '-0.5', '1e-05'
_NUMBER = re.compile(r'(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, 'soak', 'run the sim graph N times: outcomes, fault reasons, NO_COMMAND while servoing', __doc__,
        '\n\nexample:\n  aevs bench soak --runs 20 --method aevs --load 1 --json bench_results/soak_aevs.json')
    parser.add_argument('--runs', type=int, default=20, help='sim runs (default 20)')
    parser.add_argument('--method', choices=METHODS, default='dvs', help='feature family (default dvs)')
    parser.add_argument('--load', type=load_argument, default=0,
                        help='busy processes competing for the CPU meanwhile (default 0)')
    parser.add_argument('--params', default='', metavar='FILE',
                        help='scenario preset, as `aevs launch sim --params` (default config/sim.yaml)')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help="sim_scenario's timeout per run [s] (default 60, the preset's)")
    parser.add_argument('--json', default=None, help=f'result JSON (default {DEFAULT_OUT}/soak.json)')
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder: figure, logs (default %(default)s)')
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.outcome import write_json

    if args.runs < 1 or args.timeout <= 0:
        print('aevs bench soak: error: --runs and --timeout must be positive')
        return 2
    if reason := missing_model(args.method, model_paths()):
        print(f'  skipping {args.method}: {reason}')
        return 1
    path = output_path(args.out, args.json, 'soak')
    print(f'soak of the sim graph: {args.method}, {args.runs} run(s), {args.load} busy process(es)')
    print(ROW_HEADER)
    rows = []
    with busy_processes(args.load):
        for index in range(args.runs):
            row = soak_run(index, args.method, args.timeout, Path(args.out) / f'{path.stem}_logs', args.params)
            if row is None:
                print('  interrupted')
                break
            rows.append(row)
            print(format_row(row), flush=True)
    if not rows:
        return 1
    summary = summarise(rows)
    figure = plot_soak(rows, f'{args.method}, load {args.load}', Path(args.out) / f'{path.stem}.png')
    results = {'benchmark': 'soak', 'machine': machine_info(), 'method': args.method, 'load': args.load,
               'params_file': args.params or 'config/sim.yaml',
               'timeout_s': args.timeout, 'runs_requested': args.runs, **summary, 'runs': rows,
               'figure': str(figure)}
    print(format_summary(results))
    write_json(results, path)
    print(f'  results: {path}\n  figure: {figure}')
    return 0


def soak_run(index: int, method: str, timeout: float, log_dir: Path, params_file: str = '') -> dict | None:
    """One sim run in a domain of its own: its row, or None if a signal interrupted it."""
    from .. import graph
    from ..graph_processes import TIMEOUT_MARGIN_S, command_line, run_graph

    with contextlib.ExitStack() as stack:
        domain_id = stack.enter_context(reserved_domain_id(os.getpid() + index))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='aevs_soak_')))
        outcome_path, log_path = folder / 'outcome.json', folder / 'nodes.log'
        specs = graph.build_graph('sim', params_file=params_file, method=method, timeout=timeout,
                                  json=str(outcome_path))
        stack.enter_context(environment(**local_domain_variables(domain_id, folder / 'ros_log')))
        watch = stack.enter_context(_ServoWatch(domain_id, outcome_path))
        started = time.monotonic()
        with open(log_path, 'w') as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = run_graph(specs, [command_line(spec) for spec in specs], timeout + TIMEOUT_MARGIN_S, output=log)
        wall = time.monotonic() - started
        outcome = json.loads(outcome_path.read_text()) if outcome_path.is_file() else None
        if outcome is None and code == 0:  # sim_scenario exits 0 only after writing a converged outcome
            return None
        row = {'run': index, 'domain_id': domain_id, 'exit_code': code,
               'converged': bool(outcome and outcome['converged']),
               'reason': outcome['stop_reason'] if outcome else f'no outcome (exit code {code})',
               'iterations': outcome['iterations'] if outcome else None,
               'final_error_mm': outcome['final_translation_error_m'] * 1e3 if outcome else None,
               'final_error_deg': outcome['final_rotation_error_deg'] if outcome else None,
               'servo_time_s': outcome['wall_time_s'] if outcome else None,
               'wall_s': wall, 'no_command_while_servoing': watch.no_command_while_servoing,
               'no_command_at_iterations': watch.no_command_iterations,
               'max_frame_gap_s': watch.max_gap['frame'], 'max_twist_gap_s': watch.max_gap['twist'],
               'watched_from_iteration': watch.watched_from_iteration}
        row['reason_group'] = normalise_reason(row['reason'])
        if not row['converged']:
            log_dir.mkdir(parents=True, exist_ok=True)
            row['log'] = str(shutil.copy(log_path, log_dir / f'run_{index:03d}.log'))
        return row


def normalise_reason(reason: str) -> str:
    """'fault: stale camera: no image for 1.23 s' -> 'fault: stale camera: no image for # s'."""
    return _NUMBER.sub('#', reason)


class _ServoWatch:
    """Counts NO_COMMAND reports of gantry_driver while the servo's last state was SERVOING.

    Counting stops once the outcome file exists: after it the graph is torn down, and a driver
    outliving the servo reports NO_COMMAND for that reason alone. /gantry/status is published on
    change (transient local), so each NO_COMMAND after another status is one transition.
    Discovery at start-up can take seconds on a busy machine: ``watched_from_iteration`` is the
    servo iteration of the first SERVOING status received (what came before was not watched).
    """

    def __init__(self, domain_id: int, outcome_path: Path):
        self.domain_id, self.outcome_path = domain_id, outcome_path
        self.no_command_while_servoing = 0
        self.no_command_iterations = []  # the servo iteration at each of them: start-up or mid-run
        self.last_arrival, self.max_gap = {}, {'frame': 0.0, 'twist': 0.0}
        self.gantry_status = self.servo_state = self.servo_iteration = self.watched_from_iteration = None

    def __enter__(self):
        import rclpy
        from aevs_msgs.msg import ServoStatus
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from geometry_msgs.msg import TwistStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        self.servoing = ServoStatus.STATE_SERVOING
        self.context = Context()
        rclpy.init(context=self.context, domain_id=self.domain_id)
        self.node = rclpy.create_node('aevs_bench_soak', context=self.context)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(String, 'gantry/status', self._on_gantry, latched)
        self.node.create_subscription(ServoStatus, 'servo/status', self._on_servo, 10)
        self.node.create_subscription(Image, 'camera/image_raw', self._gap_recorder('frame'), qos_profile_sensor_data)
        self.node.create_subscription(TwistStamped, 'servo/twist', self._gap_recorder('twist'), qos_profile_sensor_data)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self.spinner.start()
        return self

    def __exit__(self, *_exc):
        self.executor.shutdown(timeout_sec=JOIN_TIMEOUT_S)
        self.spinner.join(JOIN_TIMEOUT_S)
        self.node.destroy_node()
        self.context.try_shutdown()

    def _gap_recorder(self, what: str):
        """Longest time between two arrivals of ``what`` while the servo was SERVOING [s]: which
        stream paused when the driver saw no twist (camera frames, or twists despite frames)."""
        def on_message(_msg):
            now = time.monotonic()
            last = self.last_arrival.get(what)
            self.last_arrival[what] = now
            if last is not None and self.servo_state == self.servoing and not self.outcome_path.exists():
                self.max_gap[what] = max(self.max_gap[what], now - last)
        return on_message

    def _on_servo(self, msg):
        self.servo_state, self.servo_iteration = msg.state, msg.iteration
        if msg.state == self.servoing and self.watched_from_iteration is None:
            self.watched_from_iteration = msg.iteration

    def _on_gantry(self, msg):
        from ..robot.safety import GantryStatus

        previous, self.gantry_status = self.gantry_status, msg.data
        if (msg.data == GantryStatus.NO_COMMAND.name and previous not in (None, msg.data)
                and self.servo_state == self.servoing and not self.outcome_path.exists()):
            self.no_command_while_servoing += 1
            self.no_command_iterations.append(self.servo_iteration)


def summarise(rows: list[dict]) -> dict:
    """Counts over the runs and the goals they meet."""
    import numpy as np

    converged = [row for row in rows if row['converged']]
    times = [row['servo_time_s'] for row in converged]
    no_command = sum(row['no_command_while_servoing'] for row in rows)
    summary = {
        'converged': len(converged), 'not_converged': len(rows) - len(converged),
        'reasons': dict(Counter(row['reason_group'] for row in rows).most_common()),
        'no_command_while_servoing': no_command,
        'runs_with_no_command_while_servoing': sum(1 for row in rows if row['no_command_while_servoing']),
        'time_to_converge_s': {'median': float(np.median(times)), 'max': float(max(times))} if times else None,
        'longest_gap_while_servoing_s': {what: max(row[f'max_{what}_gap_s'] for row in rows)
                                         for what in ('frame', 'twist')},
    }
    summary['goals_met'] = {'all_converged': not summary['not_converged'],
                            'no_command_while_servoing': no_command == 0}
    return summary


ROW_HEADER = (f"  {'run':>3} {'converged':>9} {'iter.':>6} {'final mm':>9} {'final deg':>9} {'servo s':>8} "
              f"{'wall s':>7} {'NO_COMMAND@SERVOING':>20} {'watched from it.':>17}  reason")


def format_row(row: dict) -> str:
    def cell(value, width: int, spec: str) -> str:  # '-' where the run has no outcome
        return f'{value:>{width}{spec}}' if value is not None else f"{'-':>{width}}"

    return (f"  {row['run']:>3} {'yes' if row['converged'] else 'NO':>9} {cell(row['iterations'], 6, 'd')} "
            f"{cell(row['final_error_mm'], 9, '.4f')} {cell(row['final_error_deg'], 9, '.4f')} "
            f"{cell(row['servo_time_s'], 8, '.2f')} {row['wall_s']:>7.1f} "
            f"{row['no_command_while_servoing']:>20d} {cell(row['watched_from_iteration'], 17, 'd')}"
            f"  {row['reason']}")


def format_summary(results: dict) -> str:
    met = results['goals_met']
    reasons = '; '.join(f'{reason}: {count}' for reason, count in results['reasons'].items())
    timing = results['time_to_converge_s']
    return '\n'.join([
        f"  converged {results['converged']} of {len(results['runs'])}"
        + (f", time to converge median {timing['median']:.2f} s, max {timing['max']:.2f} s" if timing else ''),
        f'  outcomes: {reasons}',
        f"  NO_COMMAND while SERVOING: {results['no_command_while_servoing']} "
        f"(in {results['runs_with_no_command_while_servoing']} run(s)); longest gap while SERVOING: "
        f"camera frames {results['longest_gap_while_servoing_s']['frame']:.3f} s, "
        f"twists {results['longest_gap_while_servoing_s']['twist']:.3f} s",
        f"  goals: every run converged: {'pass' if met['all_converged'] else 'FAIL'}; "
        f"no NO_COMMAND while SERVOING: {'pass' if met['no_command_while_servoing'] else 'FAIL'}"])


def plot_soak(rows: list[dict], title: str, path) -> Path:
    """Time to converge per run (green: converged, red: not, at its stop time) and the NO_COMMAND
    reports while servoing per run."""
    from matplotlib.ticker import MaxNLocator

    from .plots import _pyplot, _save

    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(max(5.0, 0.3 * len(rows) + 2), 5))
    runs = [row['run'] for row in rows]
    top.bar(runs, [row['servo_time_s'] or 0.0 for row in rows],
            color=['tab:green' if row['converged'] else 'tab:red' for row in rows])
    top.set_ylabel('servo time [s]')
    top.set_title(f'sim soak ({title}): time to converge (red: not converged)', fontsize=9)
    counts = [row['no_command_while_servoing'] for row in rows]
    bottom.bar(runs, counts, color='tab:orange')
    bottom.set_ylim(0, max(1, *counts) * 1.15)
    bottom.set_ylabel('NO_COMMAND\nwhile SERVOING')
    bottom.set_xlabel('run')
    bottom.set_xticks(runs[::max(1, len(runs) // 20)])
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)
