"""`aevs bench loop`: the servo loop through ROS, per method.

servo_node runs as its own process, started as `aevs launch sim` starts it (graph.py, the same
parameter files); this benchmark plays the camera (rendered views near the goal, with
camera_info) and measures, from the twists that come back:

- latency: from an image's stamp (its publication) to the arrival of the twist stamped with it;
- the rate achieved with a camera at --rate Hz (twists per second, share of frames answered),
  counted after a warm-up: the frames of the first second after the servo accepted the goal
  are sent but not counted;
- the closed-loop rate: the next image is sent as soon as the twist for the previous one
  arrived, the fastest this servo can run through ROS on this machine;
- beside it, the core step time (`Servo.step` in-process, bench/latency.py's measurement, one
  thread like servo_node in the sim graph) in the same run: closed_loop_to_core_ratio =
  closed-loop period / core step time is what ROS adds.

--load N runs N busy processes (bench/load.py) during all of it. Each row is checked against
the goals (GOALS: >= 99 % answered, p95 latency < 33 ms, ratio <= 1.3); pass/fail is reported,
never enforced. dvs and dct always run; pca and aevs when their model files exist.
"""
from __future__ import annotations

import math
import os
import subprocess
import tempfile
import threading
import time

from . import (DEFAULT_OUT, METHODS, benchmark_parser, machine_info,
               missing_model, model_paths, output_path, parse_methods)
from ..nodes import EXECUTOR_VARIABLE, EXECUTORS, make_executor, spin_until
from .load import busy_processes, load_argument

STARTUP_TIMEOUT_S = 90.0  # servo_node start, including torch and the model for aevs
ANSWER_TIMEOUT_S = 2.0
#: frames sent in this first stretch after the goal is accepted are not counted [s]
WARM_UP_S = 1.0
#: what the servo loop should achieve at --load 0 and 1 (reported per row, never enforced)
GOALS = {'answered_share_min': 0.99, 'latency_p95_max_ms': 33.0, 'closed_loop_to_core_ratio_max': 1.3}


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, 'loop', 'latency and rate of the servo loop through ROS (servo_node process), per method', __doc__,
        '\n\nexample:\n  aevs bench loop --json bench_results/loop.json')
    parser.add_argument('--methods', type=parse_methods, default=list(METHODS),
                        help=f"comma-separated feature families (default {','.join(METHODS)})")
    parser.add_argument('--frames', type=int, default=150, help='images per measurement (default 150)')
    parser.add_argument('--rate', type=float, default=30.0, help='camera frame rate [Hz] (default 30)')
    parser.add_argument('--size', type=int, default=128, help='camera image size [px] (default 128)')
    parser.add_argument('--executor', choices=EXECUTORS, default=EXECUTORS[0],
                        help="servo_node's rclpy executor (default %(default)s, as servo_node runs)")
    parser.add_argument('--params', default='', metavar='FILE',
                        help="preset servo_node reads after config/servo.yaml (default config/sim.yaml)")
    parser.add_argument('--load', type=load_argument, default=0,
                        help='busy processes competing for the CPU meanwhile (default 0)')
    parser.add_argument('--model', default=None, help='AEVS model (default: the shipped one)')
    parser.add_argument('--pca', default=None, help='PCA basis (default: the shipped one)')
    parser.add_argument('--json', default=None, help=f'result JSON (default {DEFAULT_OUT}/loop.json)')
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder (default %(default)s)')
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.outcome import write_json

    paths = model_paths(args.pca, args.model)
    results = {'benchmark': 'loop', 'machine': machine_info(), 'frames': args.frames,
               'camera_rate_hz': args.rate, 'image_size': args.size, 'load': args.load,
               'executor': args.executor, 'params_file': args.params or 'config/sim.yaml',
               'warm_up': {'seconds': WARM_UP_S, 'frames': warm_up_frames(args.rate),
                           'rule': f'frames of the first {WARM_UP_S:g} s after the servo accepted the '
                                   'goal are sent but not counted'},
               'goals': GOALS, 'methods': {}, 'skipped': {}}
    views = _views(args.size)
    with busy_processes(args.load):
        for method in args.methods:
            reason = missing_model(method, paths)
            if reason is None:
                try:
                    loop = measure(method, paths.get(method), views, args.frames, args.rate, args.executor,
                                   args.params)
                    core_step = measure_core_step(method, paths, args.size, args.frames)
                    results['methods'][method] = summarise(loop, core_step)
                except RuntimeError as exc:
                    reason = str(exc)
            if reason:
                results['skipped'][method] = reason
                print(f'  skipping {method}: {reason}')
    print(format_results(results))
    path = output_path(args.out, args.json, 'loop')
    write_json(results, path)
    print(f'  results: {path}')
    return 0 if results['methods'] else 1


def warm_up_frames(rate: float) -> int:
    return math.ceil(rate * WARM_UP_S)


def measure_core_step(method: str, paths: dict, size: int, steps: int) -> dict:
    """Median and p95 of ``Servo.step`` in a fresh one-thread process (bench/latency.py's measure)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from . import latency, thread_environment

    settings = {'steps': steps, 'threads': 1, 'size': size, 'scene': None, 'models': paths}
    with thread_environment(1), ProcessPoolExecutor(1, mp_context=get_context('spawn')) as pool:
        result = pool.submit(latency.measure, method, settings).result()
    if 'skipped' in result:
        raise RuntimeError(result['skipped'])
    return result['step_ms']


def summarise(loop: dict, core_step: dict) -> dict:
    """The loop's measurements plus the headline figures and the goals each one meets."""
    ratio = loop['closed_loop']['period_ms']['median'] / core_step['median']
    row = {**loop,
           'answered_share_after_warmup': loop['camera_rate']['answered_fraction'],
           'closed_loop_rate_hz': loop['closed_loop']['rate_hz'],
           'core_step_ms': core_step['median'],
           'closed_loop_to_core_ratio': ratio}
    met = {'answered': row['answered_share_after_warmup'] >= GOALS['answered_share_min'],
           'latency_p95': row['latency_ms']['p95'] < GOALS['latency_p95_max_ms'],
           'closed_loop_to_core': ratio <= GOALS['closed_loop_to_core_ratio_max']}
    row['goals_met'] = {**met, 'all': all(met.values())}
    return row


def _views(size: int):
    """(camera, goal view, views displaced from it by up to ~2 cm / 2 deg)."""
    import numpy as np

    from ..core import se3
    from ..core.camera import default_camera
    from ..core.scene import PlanarScene

    camera, scene = default_camera(size), PlanarScene.load()
    goal = se3.look_at((0.0, 0.0, 0.6), (0.0, 0.0, 0.0))
    offsets = np.linspace(0.2, 1.0, 20)[:, None] * np.array([0.015, -0.01, 0.008, 1.5, -1.0, 1.0])
    views = [scene.render(camera, se3.displaced(goal, offset)).image for offset in offsets]
    return camera, scene.render(camera, goal).image, views


def measure(method: str, model: str | None, views, frames: int, rate: float, executor: str = EXECUTORS[0],
            params_file: str = '') -> dict:
    """Start servo_node for ``method`` with ``executor``, set the goal, time the camera-rate and
    closed loops."""
    import rclpy
    from rclpy.context import Context

    from .. import graph
    from ..graph_processes import command_line, teardown
    from . import thread_environment

    spec = next(s for s in graph.build_graph('sim', params_file=params_file, method=method, model=model or '')
                if s.executable == 'servo_node')
    log = tempfile.TemporaryFile('w+')  # the node's output, shown if it fails to start
    with thread_environment(1):
        process = subprocess.Popen(command_line(spec), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, EXECUTOR_VARIABLE: executor})
    process.log = log
    context = Context()
    stop = threading.Event()
    spinner = node = probe_executor = None
    try:  # from here on, whatever fails, the servo_node process is torn down
        rclpy.init(context=context)
        node = rclpy.create_node('aevs_bench_loop', context=context)
        probe_executor = make_executor('', 1, context=context)  # the nodes' default: the probe adds little
        probe_executor.add_node(node)
        spinner = threading.Thread(target=spin_until, args=(probe_executor, stop.is_set), daemon=True)
        spinner.start()
        camera = _Camera(node, *views)
        camera.start(process)
        latencies, answered, elapsed = camera.run_at(rate, frames, warm_up_frames(rate))
        periods, closed_latencies = camera.closed_loop(frames)
    finally:
        stop.set()
        if spinner is not None:
            spinner.join(5.0)
        if probe_executor is not None:
            probe_executor.shutdown()
        if node is not None:
            node.destroy_node()
        context.try_shutdown()
        teardown([process])
        log.close()
    return {
        'latency_ms': _stats(latencies, 1e3),
        'camera_rate': {'rate_hz': answered / elapsed, 'answered_fraction': answered / frames},
        'closed_loop': {'rate_hz': 1.0 / _percentile(periods, 50), 'period_ms': _stats(periods, 1e3),
                        'latency_ms': _stats(closed_latencies, 1e3)},
    }


class _Camera:
    """Publishes views with camera_info and records when the twist answering each stamp arrives."""

    def __init__(self, node, camera, goal, views):
        from aevs_msgs.srv import SetGoalImage
        from geometry_msgs.msg import TwistStamped
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image

        from ..nodes.image_conversions import gray_to_image_msg
        from ..nodes.planar_renderer import camera_info_msg

        self.node, self.camera, self.goal, self.views = node, camera, goal, views
        self.to_msg, self.info_msg = gray_to_image_msg, camera_info_msg
        self.image_pub = node.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        self.info_pub = node.create_publisher(CameraInfo, 'camera/camera_info', qos_profile_sensor_data)
        self.goal_client = node.create_client(SetGoalImage, 'set_goal_image')
        self.request_type = SetGoalImage.Request
        self.answers, self.changed = {}, threading.Condition()  # stamp ns -> arrival ns
        node.create_subscription(TwistStamped, 'servo/twist', self._on_twist, 10)
        self.count = 0

    def _on_twist(self, msg):
        arrival = self.node.get_clock().now().nanoseconds
        with self.changed:
            self.answers[msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec] = arrival
            self.changed.notify_all()

    def publish(self) -> int:
        """Publish the next view; returns its stamp in ns."""
        now = self.node.get_clock().now()
        msg = self.to_msg(self.views[self.count % len(self.views)], now.to_msg(), 'camera_optical_frame')
        self.count += 1
        self.image_pub.publish(msg)
        self.info_pub.publish(self.info_msg(self.camera, msg.header))
        return now.nanoseconds

    def start(self, process):
        """Wait for the servo (bounded), stream frames until it accepts the goal view."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.goal_client.wait_for_service(timeout_sec=0.5):
            if process.poll() is not None:
                process.log.seek(0)
                raise RuntimeError(f'servo_node exited ({process.returncode}): {process.log.read()[-500:]}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'servo_node not up after {STARTUP_TIMEOUT_S:g} s')
        while time.monotonic() < deadline:
            self.publish()
            future = self.goal_client.call_async(self.request_type(image=self.to_msg(self.goal)))
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            if future.done() and future.result().success:
                return
            time.sleep(0.1)
        raise RuntimeError('servo_node did not accept the goal image')

    def run_at(self, rate: float, frames: int, warm_up: int):
        """``warm_up`` then ``frames`` frames at ``rate`` Hz, one stream (a pause could trip the
        stale-camera watchdog); of the counted frames: (latencies [s] of the answered ones,
        answered count, elapsed s)."""
        stamps, started = [], time.monotonic()
        for index in range(warm_up + frames):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            stamps.append(self.publish())
        elapsed = time.monotonic() - started - warm_up / rate
        stamps = stamps[warm_up:]
        with self.changed:
            self.changed.wait_for(lambda: all(s in self.answers for s in stamps), ANSWER_TIMEOUT_S)
            latencies = [(self.answers[s] - s) * 1e-9 for s in stamps if s in self.answers]
        return latencies, len(latencies), elapsed

    def closed_loop(self, frames: int):
        """Next frame as soon as the previous one is answered: (periods [s], latencies [s])."""
        periods, latencies = [], []
        for _ in range(frames):
            started = time.monotonic()
            stamp = self.publish()
            with self.changed:
                if not self.changed.wait_for(lambda: stamp in self.answers, ANSWER_TIMEOUT_S):
                    continue  # dropped (best-effort transport): publish the next one
                latencies.append((self.answers[stamp] - stamp) * 1e-9)
            periods.append(time.monotonic() - started)
        if not periods:
            raise RuntimeError('servo_node answered no frame in the closed loop')
        return periods, latencies


def _percentile(values, q):
    import numpy as np

    return float(np.percentile(values, q))


def _stats(values, scale: float) -> dict:
    if not values:
        return {'median': float('nan'), 'p95': float('nan'), 'count': 0}
    return {'median': _percentile(values, 50) * scale, 'p95': _percentile(values, 95) * scale,
            'count': len(values)}


def format_results(results: dict) -> str:
    goals = results['goals']
    lines = [f"servo loop through ROS ({results['image_size']}x{results['image_size']} images, "
             f"camera at {results['camera_rate_hz']:g} Hz, {results['frames']} frames per measurement "
             f"after {results['warm_up']['frames']} warm-up frames, {results['load']} busy process(es))",
             f"  goals: answered >= {goals['answered_share_min']:.0%}, p95 latency < "
             f"{goals['latency_p95_max_ms']:g} ms, closed-loop period / core step <= "
             f"{goals['closed_loop_to_core_ratio_max']:g}",
             f"  {'method':<6} {'answered':>9} {'latency median':>15} {'p95':>9} {'rate @camera':>13} "
             f"{'closed loop':>12} {'core step':>10} {'closed/core':>12}  goals (answered, p95, ratio)"]
    for method, r in results['methods'].items():
        met = r['goals_met']
        verdicts = ', '.join('pass' if met[key] else 'FAIL' for key in ('answered', 'latency_p95',
                                                                        'closed_loop_to_core'))
        lines.append(
            f"  {method:<6} {r['answered_share_after_warmup']:>9.1%} {r['latency_ms']['median']:>12.1f} ms "
            f"{r['latency_ms']['p95']:>6.1f} ms {r['camera_rate']['rate_hz']:>10.1f} Hz "
            f"{r['closed_loop_rate_hz']:>9.1f} Hz {r['core_step_ms']:>7.2f} ms "
            f"{r['closed_loop_to_core_ratio']:>11.2f}x  {verdicts}")
    return '\n'.join(lines)
