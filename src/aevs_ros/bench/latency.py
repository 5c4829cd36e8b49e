"""`aevs bench latency`: how long one servo step takes, image in to velocity out.

Every method runs in a fresh process (so its peak memory is its own and the thread settings
apply from the start) on the same sequence of rendered images: the views along the straight
(geodesic) path from the first look-at start pose to its goal. Each step is split into the
features (s and L_s; for AEVS the encoder gives z and L_z together) and the control law with
the servo's bookkeeping; the photometric L_I, which every family but siame builds on, is timed
apart.
"""
from __future__ import annotations

import time

from . import DEFAULT_OUT, METHODS, benchmark_parser, output_path, parse_methods

WARM_UP_STEPS = 10


def parse_size(text: str) -> tuple[int, int]:
    """'224' -> (224, 224), '320x240' -> (320, 240): (width, height) in pixels (argparse type)."""
    import argparse

    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height or width))
    except ValueError:
        size = (0, 0)
    if min(size) < 16:
        raise argparse.ArgumentTypeError(f"expected a size like 224 or 320x240 (at least 16 px), got {text!r}")
    return size


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [parse_size(item) for item in text.split(",") if item.strip()]


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "latency", "per-step time and memory of the servo loop, per method", __doc__,
        "\n\nexample:\n  aevs bench latency --methods dvs,dct,pca,aevs --threads 1 --json lat.json")
    parser.add_argument("--methods", type=parse_methods, default=list(METHODS),
                        help=f"comma-separated feature families (default {','.join(METHODS)})")
    parser.add_argument("--steps", type=int, default=200, help="timed servo steps (default 200)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads; servo-sized products are fastest on 1 (default 1)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="run with glibc settings that keep freed memory (bench.KEEP_FREED_MEMORY): "
                             "shows the cost of page faults on per-frame temporaries")
    parser.add_argument("--size", type=parse_size, default=(128, 128),
                        help="image size in pixels, WIDTH or WIDTHxHEIGHT (default 128)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--pca", default=None, help="PCA basis (default: the shipped one)")
    parser.add_argument("--siame", default=None, help="Siame-se(3) model (default: the shipped one)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/latency.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    parser.set_defaults(func=run)


class TimedFeature:
    """Wraps a feature so the servo's calls to compute() are timed inside each step."""

    def __init__(self, feature):
        self.feature = feature
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []  #: thread CPU time: leaves out waits for a core

    def compute(self, image, with_interaction=True, still_pixels=None):
        started, cpu_started = time.perf_counter(), time.thread_time()
        sample = self.feature.compute(image, with_interaction, still_pixels)
        self.seconds.append(time.perf_counter() - started)
        self.cpu_seconds.append(time.thread_time() - cpu_started)
        return sample

    def __getattr__(self, name):
        return getattr(self.feature, name)


def image_sequence(scene, camera, count: int):
    """(goal image, ``count`` views on the geodesic from the first look-at start to its goal)."""
    import numpy as np

    from ..core import se3
    from .cases import look_at_cases

    case = look_at_cases(1)[0]
    motion = se3.log(se3.inverse(case.start_pose) @ case.goal_pose)
    poses = [case.start_pose @ se3.exp(fraction * motion) for fraction in np.linspace(0, 1, count)]
    return scene.render(camera, case.goal_pose).image, [scene.render(camera, pose).image for pose in poses]


def _peak_rss_mb() -> float:
    """Largest resident set of this process so far, in MB (ru_maxrss is in KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _milliseconds(seconds, cpu_seconds=None) -> dict:
    """Wall-clock statistics [ms]; with ``cpu_seconds``, the thread CPU time's median and mean
    too (on a busy machine the wall clock also counts the waits for a core)."""
    import numpy as np

    values = np.asarray(seconds) * 1000
    summary = {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
               "mean": float(values.mean()), "min": float(values.min())}
    if cpu_seconds is not None:
        cpu = np.asarray(cpu_seconds) * 1000
        summary.update(cpu_median=float(np.median(cpu)), cpu_mean=float(cpu.mean()))
    return summary


def measure(method: str, settings: dict) -> dict:
    """Run in a fresh process: time ``settings['steps']`` servo steps of one method."""
    from ..core.features.registry import family

    if family(method).uses_torch:
        import torch

        torch.set_num_threads(settings["threads"])
    import numpy as np

    from ..core.camera import default_camera
    from ..core.photometric import photometric_interaction
    from ..core.scene import PlanarScene
    from ..core.servo import Servo
    from . import build_features

    size = settings["size"]  # (width, height), or one side (bench loop passes its --size)
    camera = default_camera(*((size, size) if isinstance(size, int) else size))
    scene = PlanarScene.load(settings["scene"])
    goal_image, images = image_sequence(scene, camera, settings["steps"] + WARM_UP_STEPS)
    rss_before = _peak_rss_mb()
    features, skipped = build_features([method], camera, 0.6, settings["models"])
    if skipped:
        return {"skipped": skipped[method]}
    timed = TimedFeature(features[method])
    servo = Servo(timed)
    servo.set_goal(goal_image)
    step_seconds, step_cpu = [], []
    for image in images:
        started, cpu_started = time.perf_counter(), time.thread_time()
        servo.step(image)
        step_seconds.append(time.perf_counter() - started)
        step_cpu.append(time.thread_time() - cpu_started)
    feature_seconds = timed.seconds[-len(images):]  # after set_goal's call
    feature_cpu = timed.cpu_seconds[-len(images):]
    photometric_seconds = {np.float64: ([], []), np.float32: ([], [])}
    for image in images:
        for dtype, (seconds, cpu) in photometric_seconds.items():
            started, cpu_started = time.perf_counter(), time.thread_time()
            photometric_interaction(image, camera, 0.6, dtype=dtype)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - cpu_started)
    keep = slice(WARM_UP_STEPS, None)
    control_seconds = [step - feature for step, feature in zip(step_seconds, feature_seconds)]
    control_cpu = [step - feature for step, feature in zip(step_cpu, feature_cpu)]
    photometric_64, photometric_32 = photometric_seconds[np.float64], photometric_seconds[np.float32]
    result = {
        "step_ms": _milliseconds(step_seconds[keep], step_cpu[keep]),
        "features_ms": _milliseconds(feature_seconds[keep], feature_cpu[keep]),
        "control_ms": _milliseconds(control_seconds[keep], control_cpu[keep]),
        "photometric_interaction_ms": _milliseconds(photometric_64[0][keep], photometric_64[1][keep]),
        "photometric_interaction_float32_ms": _milliseconds(photometric_32[0][keep], photometric_32[1][keep]),
        "feature_dim": timed.dim,
        "peak_rss_mb": _peak_rss_mb(),
        "peak_rss_before_feature_mb": rss_before,
        "steps": len(step_seconds[keep]),
    }
    if family(method).uses_torch:
        import torch

        result["torch_threads"] = torch.get_num_threads()
    return result


def run(args) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ..core.outcome import write_json
    from . import machine_info, missing_model, model_paths, thread_environment

    if args.steps < 1 or args.threads < 1:
        print("aevs bench latency: error: --steps and --threads must be positive")
        return 2
    settings = {"steps": args.steps, "threads": args.threads, "size": args.size, "scene": args.scene,
                "models": model_paths(args.pca, args.model, args.siame)}
    results = {}
    width, height = args.size
    print(f"latency of one servo step, {width}x{height} images, {args.threads} thread(s), "
          f"{args.steps} steps (+{WARM_UP_STEPS} warm-up)"
          + (", freed memory kept" if args.keep_freed_memory else ""))
    for method in args.methods:
        if reason := missing_model(method, settings["models"]):
            results[method] = {"skipped": reason}
            print(f"  {method:5s} skipped: {results[method]['skipped']}")
            continue
        with thread_environment(args.threads, args.keep_freed_memory):
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                results[method] = pool.submit(measure, method, settings).result()
        if "skipped" in results[method]:
            print(f"  {method:5s} skipped: {results[method]['skipped']}")
            continue
        r = results[method]
        print(f"  {method:5s} step {r['step_ms']['median']:7.2f} ms (p95 {r['step_ms']['p95']:7.2f},"
              f" CPU {r['step_ms']['cpu_median']:6.2f})"
              f" = features {r['features_ms']['median']:7.2f} + control {r['control_ms']['median']:5.2f}"
              f" | L_I alone {r['photometric_interaction_float32_ms']['median']:5.2f} ms float32"
              f" ({r['photometric_interaction_ms']['median']:5.2f} float64)"
              f" | k = {r['feature_dim']:5d} | peak RSS {r['peak_rss_mb']:6.0f} MB")
    report = {"threads": args.threads, "image_size": [width, height], "steps": args.steps,
              "keep_freed_memory": args.keep_freed_memory,
              "machine": machine_info(), "methods": results}
    path = output_path(args.out, args.json, "latency")
    write_json(report, path)
    print(f"  written to {path}")
    return 0
