"""`aevs bench table1`: the paper's Table I, every method on the same look-at and screw cases.

Each case is a closed-loop run of core.simulator.simulate with the same gain, control law and
iteration budget for every method. Runs are spread over worker processes (one BLAS/torch
thread each). A run counts as converged when the servo stopped at the goal with a final error
under 1 cm and 1 deg (core.outcome); the loose rate also accepts a run that reduced both
errors below 10 % of their start values. End errors are over converged runs, as in the paper.
"""
from __future__ import annotations

import argparse
import time

from . import DEFAULT_OUT, METHODS, benchmark_parser, parse_methods, write_report
from .convergence import (case_record, criterion_text, failed_record, markdown_table, projected_full_run_s,
                          summarize_all)

#: Runs re-simulated with images for the example figures: the first kept cases of each test.
EXAMPLES_PER_TEST = 1


def add_parser(subparsers) -> None:
    from .cases import DEFAULT_CASES, MIN_VISIBLE_FRACTION

    parser = benchmark_parser(
        subparsers, "table1", "convergence rate and end error of every method on the paper's two test sets", __doc__,
        f"""

Cases whose start or goal view sees less than {MIN_VISIBLE_FRACTION:.0%} of the scene are dropped
and counted. The full default run (2 x {DEFAULT_CASES} cases) takes long: see the printed projection
of a small run first.

examples:
  aevs bench table1 --cases 20 --methods dvs,dct --iterations 500   # a quick look
  aevs bench table1 --servo gain=20 --servo divergence_steps=0       # other control settings
  aevs bench table1                                                 # the full table""")
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES,
                        help="cases per test set (default %(default)s, as the paper)")
    parser.add_argument("--tests", type=parse_tests, default=["look_at", "screw"],
                        help="comma-separated test sets (default look_at,screw)")
    parser.add_argument("--methods", type=parse_methods, default=list(METHODS),
                        help=f"comma-separated feature families (default {','.join(METHODS)})")
    parser.add_argument("--iterations", type=int, default=1500,
                        help="iteration budget per run, as the paper's code (default %(default)s)")
    parser.add_argument("--servo", action="append", default=[], metavar="NAME=VALUE",
                        help="a core.servo.ServoConfig setting for every method, e.g. gain=20 (repeatable; "
                             "default: the simulations' law, core.simulator.SIMULATED_SERVO)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--pca", default=None, help="PCA basis (default: the shipped one)")
    parser.add_argument("--siame", default=None, help="Siame-se(3) model (default: the shipped one)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/table1.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the PNG figures, Markdown table "
                        "and default JSON (default %(default)s)")
    parser.add_argument("--no-examples", action="store_true",
                        help="skip the example trajectory figures (they re-run one case per test and method)")
    parser.set_defaults(func=run)


# ---------------------------------------------------------------- worker side

_WORKER: dict = {}


def _start_worker(settings: dict) -> None:
    """Build the scene, camera and features once per worker process."""
    from ..core.features.registry import family

    if any(family(method).uses_torch for method in settings["methods"]):
        import torch

        torch.set_num_threads(1)
    from ..core.camera import default_camera
    from ..core.scene import PlanarScene
    from . import build_features

    camera = default_camera(settings["size"])
    _WORKER.update(settings=settings, camera=camera, scene=PlanarScene.load(settings["scene"]),
                   features=build_features(settings["methods"], camera, 0.6, settings["models"])[0])


def run_case(task) -> dict:
    """One closed-loop run: (case, method) -> per-case record."""
    from ..core.errors import AevsError

    case, method = task
    started = time.process_time()
    try:
        result = simulate_case(_WORKER["scene"], _WORKER["camera"], _WORKER["features"][method], case,
                               _WORKER["settings"], record_images=False)
    except AevsError as exc:  # a bad case must not end a long run: record it as a failure
        return failed_record(case, method, f"error: {exc}")
    record = {**case_record(case, result), "cpu_time_s": time.process_time() - started}
    if _WORKER["settings"].get("record_positions"):  # camera paths, for figures (bench difficulty)
        record["positions_m"] = [pose[:3, 3].tolist() for pose in result.poses]
    return record


def run_example(task):
    """One run with its images kept, for the example figures: (case, method) -> SimResult."""
    case, method = task
    return simulate_case(_WORKER["scene"], _WORKER["camera"], _WORKER["features"][method], case,
                         _WORKER["settings"], record_images=True)


def simulate_case(scene, camera, feature, case, settings: dict, record_images: bool):
    from ..core.imperfections import CameraImperfections
    from ..core.servo import ServoConfig
    from ..core.simulator import SimConfig, simulate

    imperfections = CameraImperfections.from_mapping(settings.get("imperfections", {}))
    return simulate(scene, camera, feature, case.goal_pose, case.start_pose,
                    ServoConfig(**settings["servo"]), SimConfig(**settings["sim"]), record_images,
                    imperfections, seed=case.index)


# ---------------------------------------------------------------- driver

def parse_tests(text: str) -> list[str]:
    """'look_at,screw' -> ['look_at', 'screw'] (argparse type)."""
    from .cases import TEST_SETS

    tests = [test.strip() for test in text.split(",") if test.strip()]
    if not tests or any(test not in TEST_SETS for test in tests):
        raise argparse.ArgumentTypeError(f"test sets are {', '.join(TEST_SETS)}, got {text!r}")
    return tests


def prepare_cases(tests, count: int, scene, camera, min_visible_fraction: float) -> tuple[dict, dict]:
    """({test: kept cases}, {test: number dropped}), printing what was dropped and why."""
    from .cases import keep_visible, make_cases

    cases, dropped = {}, {}
    for test in tests:
        cases[test], dropped_cases = keep_visible(make_cases(test, count), scene, camera,
                                                  min_visible_fraction)
        dropped[test] = len(dropped_cases)
        print(f"{test}: {len(cases[test])} cases ({dropped[test]} dropped: start or goal view sees "
              f"less than {min_visible_fraction:.0%} of the scene)")
    return cases, dropped


def evaluate(cases: dict, settings: dict, workers: int, examples=()) -> tuple[list, list, float]:
    """Run every method on every case in worker processes (one thread each, freed memory kept).

    Returns (per-case records sorted by test, case and method; the SimResults of the
    ``examples`` (case, method) pairs, re-run with images; wall time of the records' runs).
    """
    from multiprocessing import get_context

    from tqdm import tqdm

    from . import thread_environment

    methods = settings["methods"]
    tasks = [(case, method) for test_cases in cases.values() for case in test_cases for method in methods]
    started = time.perf_counter()
    with thread_environment(1, keep_freed_memory=True), \
            get_context("spawn").Pool(workers, _start_worker, (settings,)) as pool:
        records = list(tqdm(pool.imap_unordered(run_case, tasks), total=len(tasks), unit="run",
                            desc=f"{'+'.join(methods)} on {workers} workers"))
        elapsed = time.perf_counter() - started
        example_runs = pool.map(run_example, examples, chunksize=1)
    records.sort(key=lambda r: (r["test"], r["case"], methods.index(r["method"])))
    return records, example_runs, elapsed


def simulation_law(servo_settings: list[str], iterations: int):
    """(ServoConfig, SimConfig) of a convergence benchmark: the simulations' law
    (core.simulator.SIMULATED_SERVO) with the --servo NAME=VALUE settings, and the budget."""
    from dataclasses import replace

    from ..core.servo import ServoConfig
    from ..core.simulator import SIMULATED_SERVO, SimConfig
    from . import config_overrides

    return (replace(SIMULATED_SERVO, **config_overrides(ServoConfig, servo_settings)),
            SimConfig(max_iterations=iterations))


def worker_count(requested: int | None, runs: int) -> int:
    """Worker processes for ``runs`` runs: the --workers given, else every core, never more than runs."""
    import os

    return max(1, min(requested or os.cpu_count() or 1, runs))


class RunSetup:
    """What a convergence benchmark's common options (--servo, --iterations, --size, --scene,
    --pca, --model, --siame where it has one, --methods) make: the law, the simulation, camera, scene and the methods
    that can run (a learned one without its model file is skipped with the reason)."""

    def __init__(self, args):
        from ..core.camera import default_camera
        from ..core.errors import AevsError
        from ..core.scene import PlanarScene
        from . import build_features, model_paths, report_skipped

        self.servo, self.sim = simulation_law(args.servo, args.iterations)
        self.camera = default_camera(getattr(args, "size", 128))
        self.scene_path = args.scene
        self.scene = PlanarScene.load(args.scene)
        self.paths = model_paths(args.pca, args.model, getattr(args, "siame", None))
        self.features, self.skipped = build_features(args.methods, self.camera, 0.6, self.paths)
        report_skipped(self.skipped)
        self.methods = [method for method in args.methods if method in self.features]
        if not self.methods:
            raise AevsError("no method to run")

    def settings(self, **extra) -> dict:
        """What the worker processes need (evaluate's ``settings``)."""
        from dataclasses import asdict

        return {"methods": self.methods, "size": self.camera.width, "scene": self.scene_path,
                "models": self.paths, "servo": asdict(self.servo), "sim": asdict(self.sim), **extra}

    def record(self) -> dict:
        """The report fields every convergence benchmark writes: law, simulation, scene, models."""
        from dataclasses import asdict

        return {"servo_config": asdict(self.servo), "sim_config": asdict(self.sim),
                "scene": {"name": self.scene.name, "fingerprint": self.scene.fingerprint,
                          "width_m": self.scene.width_m},
                "models": {method: self.paths[method] for method in self.paths if method in self.methods},
                "skipped_methods": self.skipped}


def run(args) -> int:
    from pathlib import Path

    from ..core.errors import AevsError
    from . import machine_info
    from .plots import example_figures, plot_convergence_rates, plot_end_errors

    if args.cases < 1 or args.iterations < 1:
        print("aevs bench table1: error: --cases and --iterations must be positive")
        return 2
    try:
        setup = RunSetup(args)
    except AevsError as exc:
        print(f"aevs bench table1: error: {exc}")
        return 2
    sim, camera, scene = setup.sim, setup.camera, setup.scene
    features, methods = setup.features, setup.methods
    _warn_on_scene_mismatch(features, scene)
    cases, dropped = prepare_cases(args.tests, args.cases, scene, camera, sim.min_visible_fraction)
    settings = setup.settings()
    workers = worker_count(args.workers, sum(map(len, cases.values())) * len(methods))
    examples = [] if args.no_examples else [
        (case, method) for test_cases in cases.values() for case in test_cases[:EXAMPLES_PER_TEST]
        for method in methods]
    records, example_runs, elapsed = evaluate(cases, settings, workers, examples)

    results = summarize_all(records, cases, dropped, methods)
    table = markdown_table(results, args.tests, methods)
    projection = projected_full_run_s(results, workers)
    print(f"\n{table}\n\nwall time {elapsed:.0f} s on {workers} workers; projected for 2 x 500 cases "
          f"with these methods and this budget on {workers} idle cores: {projection / 60:.0f} min")
    report = {
        "criterion": criterion_text(), "iterations": args.iterations, **setup.record(),
        "camera": camera.to_camera_info(), "cases_requested": args.cases, "workers": workers,
        "wall_time_s": elapsed, "projected_full_run_s": projection, "machine": machine_info(),
        "results": results, "records": records,
    }
    out = Path(args.out)
    json_path, markdown_path = write_report(args, "table1", report, table)
    figures = [plot_convergence_rates(results, args.tests, methods, out / "table1_convergence.png"),
               plot_end_errors(records, args.tests, methods, out / "table1_end_errors.png"),
               *example_figures(examples, example_runs, out)]
    print(f"  JSON: {json_path}\n  table: {markdown_path}\n  figures: "
          + ", ".join(str(path) for path in figures))
    return 0


def _warn_on_scene_mismatch(features, scene) -> None:
    fingerprint = getattr(features.get("pca"), "scene_fingerprint", "")
    if fingerprint and fingerprint != scene.fingerprint:
        print(f"  warning: the PCA basis was fitted on another scene ({fingerprint}, this one is "
              f"{scene.fingerprint}): PCA-VS will be handicapped")
