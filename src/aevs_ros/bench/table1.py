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

from . import DEFAULT_OUT, METHODS, benchmark_parser, output_path, parse_methods

#: Loose criterion: final errors below this share of the start errors also count.
LOOSE_REDUCTION = 0.10
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
                             "default: the servo's defaults)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--pca", default=None, help="PCA basis (default: the shipped one)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/table1.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the PNG figures, Markdown table "
                        "and default JSON (default %(default)s)")
    parser.add_argument("--no-examples", action="store_true",
                        help="skip the example trajectory figures (they re-run one case per test and method)")
    parser.set_defaults(func=run)


def criterion_text() -> str:
    from ..core.outcome import CONVERGED_ROTATION_DEG, CONVERGED_TRANSLATION_M

    return (f"converged: the servo declared convergence and the final pose error is below "
            f"{CONVERGED_TRANSLATION_M * 100:g} cm and {CONVERGED_ROTATION_DEG:g} deg; converged_loose: "
            f"final errors below those bounds, or both below {LOOSE_REDUCTION:.0%} of the start errors "
            f"(servo verdict not needed). End errors (median/mean) are over converged runs.")


# ---------------------------------------------------------------- worker side

_WORKER: dict = {}


def _start_worker(settings: dict) -> None:
    """Build the scene, camera and features once per worker process."""
    if "aevs" in settings["methods"]:
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
    from ..core.servo import ServoConfig
    from ..core.simulator import SimConfig, simulate

    return simulate(scene, camera, feature, case.goal_pose, case.start_pose,
                    ServoConfig(**settings["servo"]), SimConfig(**settings["sim"]), record_images)


def case_record(case, result) -> dict:
    from ..core.outcome import CONVERGED_ROTATION_DEG, CONVERGED_TRANSLATION_M, outcome_from_simulation

    outcome = outcome_from_simulation(result)
    start_t, start_r = outcome["start_translation_error_m"], outcome["start_rotation_error_deg"]
    final_t, final_r = outcome["final_translation_error_m"], outcome["final_rotation_error_deg"]
    at_goal = final_t < CONVERGED_TRANSLATION_M and final_r < CONVERGED_ROTATION_DEG
    reduced = final_t < LOOSE_REDUCTION * start_t and final_r < LOOSE_REDUCTION * start_r
    return {"test": case.test, "case": case.index, "method": outcome["method"],
            "converged": outcome["converged"], "converged_loose": bool(at_goal or reduced),
            "stop_reason": outcome["stop_reason"], "iterations": outcome["iterations"],
            "start_error_mm": start_t * 1000, "start_error_deg": start_r,
            "end_error_mm": final_t * 1000, "end_error_deg": final_r,
            "wall_time_s": outcome["wall_time_s"]}


def failed_record(case, method: str, reason: str) -> dict:
    """The record of a run the simulator refused (its errors are the start errors)."""
    from ..core import se3

    start_t, start_r = se3.pose_error(case.start_pose, case.goal_pose)
    return {"test": case.test, "case": case.index, "method": method, "converged": False,
            "converged_loose": False, "stop_reason": reason, "iterations": 0,
            "start_error_mm": start_t * 1000, "start_error_deg": start_r, "end_error_mm": start_t * 1000,
            "end_error_deg": start_r, "wall_time_s": 0.0, "cpu_time_s": 0.0}


# ---------------------------------------------------------------- summaries

#: Stop reasons of core.simulator grouped by their start (the rest holds run-specific numbers).
STOP_CATEGORIES = (("converged", "converged"), ("iteration budget", "budget exhausted"),
                   ("scene out of view", "scene out of view"), ("fault: diverging", "feature error grew"),
                   ("diverged", "camera too far"), ("stalled", "stalled (local minimum)"), ("fault", "other fault"),
                   ("error", "simulator error"))


def stop_category(reason: str) -> str:
    return next((category for prefix, category in STOP_CATEGORIES if reason.startswith(prefix)), reason)


def summarize(records: list[dict], dropped: int) -> dict:
    import numpy as np

    converged = [r for r in records if r["converged"]]
    end_mm = np.array([r["end_error_mm"] for r in converged])
    end_deg = np.array([r["end_error_deg"] for r in converged])
    reasons: dict[str, int] = {}
    for record in records:
        category = stop_category(record["stop_reason"])
        reasons[category] = reasons.get(category, 0) + 1

    def statistic(function, values):
        return float(function(values)) if len(values) else None

    count = len(records)
    return {
        "cases": count, "dropped": dropped,
        "converged": len(converged),
        "converged_rate": len(converged) / count if count else None,
        "converged_rate_loose": sum(r["converged_loose"] for r in records) / count if count else None,
        "median_end_error_mm": statistic(np.median, end_mm),
        "median_end_error_deg": statistic(np.median, end_deg),
        "mean_end_error_mm": statistic(np.mean, end_mm),
        "mean_end_error_deg": statistic(np.mean, end_deg),
        "max_end_error_mm": statistic(np.max, end_mm),
        "mean_iterations": statistic(np.mean, [r["iterations"] for r in records]),
        "mean_iterations_converged": statistic(np.mean, [r["iterations"] for r in converged]),
        "wall_time_s": float(sum(r["wall_time_s"] for r in records)),
        "cpu_time_s": float(sum(r.get("cpu_time_s", 0.0) for r in records)),
        "stop_reasons": reasons,
    }


def markdown_table(results: dict, tests: list[str], methods: list[str]) -> str:
    """Table I layout: per test, convergence % (strict / loose) and median end error."""
    header = "| method |" + "".join(
        f" {test} conv. % (loose) | {test} end error mm, deg | {test} mean iter. |" for test in tests)
    lines = [header, "|---|" + "---|---|---|" * len(tests)]
    for method in methods:
        cells = []
        for test in tests:
            summary = results.get(test, {}).get(method)
            if not summary or not summary["cases"]:
                cells += ["-", "-", "-"]
                continue
            cells.append(f"{summary['converged_rate'] * 100:.1f} "
                         f"({summary['converged_rate_loose'] * 100:.1f})")
            cells.append("-" if summary["median_end_error_mm"] is None else
                         f"{summary['median_end_error_mm']:.3g}, {summary['median_end_error_deg']:.3g}")
            cells.append(f"{summary['mean_iterations']:.0f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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


def summarize_all(records, cases: dict, dropped: dict, methods) -> dict:
    """{test: {method: summary}}."""
    return {test: {method: summarize([r for r in records if r["test"] == test and r["method"] == method],
                                     dropped[test])
                   for method in methods} for test in cases}


def run(args) -> int:
    import os
    from dataclasses import asdict
    from pathlib import Path

    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.outcome import write_json
    from ..core.scene import PlanarScene
    from ..core.servo import ServoConfig
    from ..core.simulator import SimConfig
    from . import build_features, config_overrides, machine_info, model_paths, report_skipped
    from .plots import plot_convergence_rates, plot_end_errors

    if args.cases < 1 or args.iterations < 1:
        print("aevs bench table1: error: --cases and --iterations must be positive")
        return 2
    try:
        servo = ServoConfig(**config_overrides(ServoConfig, args.servo))
        sim = SimConfig(max_iterations=args.iterations)
        camera = default_camera(args.size)
        scene = PlanarScene.load(args.scene)
        paths = model_paths(args.pca, args.model)
        features, skipped = build_features(args.methods, camera, 0.6, paths)
    except AevsError as exc:
        print(f"aevs bench table1: error: {exc}")
        return 2
    report_skipped(skipped)
    methods = [method for method in args.methods if method in features]
    if not methods:
        print("aevs bench table1: error: no method to run")
        return 2
    _warn_on_scene_mismatch(features, scene)
    cases, dropped = prepare_cases(args.tests, args.cases, scene, camera, sim.min_visible_fraction)
    settings = {"methods": methods, "size": args.size, "scene": args.scene, "models": paths,
                "servo": asdict(servo), "sim": asdict(sim)}
    workers = max(1, min(args.workers or os.cpu_count() or 1, sum(map(len, cases.values())) * len(methods)))
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
        "criterion": criterion_text(), "iterations": args.iterations,
        "servo_config": {**asdict(servo), "interaction": servo.interaction.value}, "sim_config": asdict(sim),
        "scene": {"name": scene.name, "fingerprint": scene.fingerprint, "width_m": scene.width_m},
        "camera": camera.to_camera_info(), "models": {m: paths[m] for m in paths if m in methods},
        "skipped_methods": skipped, "cases_requested": args.cases, "workers": workers,
        "wall_time_s": elapsed, "projected_full_run_s": projection, "machine": machine_info(),
        "results": results, "records": records,
    }
    out = Path(args.out)
    json_path = output_path(out, args.json, "table1")
    write_json(report, json_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table1.md").write_text(f"{table}\n\n{criterion_text()}\n")
    figures = [plot_convergence_rates(results, args.tests, methods, out / "table1_convergence.png"),
               plot_end_errors(records, args.tests, methods, out / "table1_end_errors.png"),
               *example_figures(examples, example_runs, out)]
    print(f"  JSON: {json_path}\n  table: {out / 'table1.md'}\n  figures: "
          + ", ".join(str(path) for path in figures))
    return 0


def projected_full_run_s(results: dict, workers: int, cases_per_test: int = 500) -> float:
    """Wall time of the full default table on idle cores, from the CPU time per run measured here.

    CPU time rather than wall time, so that other load on the machine does not inflate it.
    """
    total = 0.0
    for summaries in results.values():
        for summary in summaries.values():
            if summary["cases"]:
                total += summary["cpu_time_s"] / summary["cases"] * cases_per_test
    return total / workers


def example_figures(examples, results, out) -> list:
    """Fig. 7-style figures: 3-D camera path, per-axis pose error, start/goal/final images."""
    from ..core.plotting import plot_servo_run

    figures = []
    for (case, method), result in zip(examples, results):
        record = case_record(case, result)
        title = (f"{method}, {case.test} case {case.index}: {result.stop_reason}, final error "
                 f"{record['end_error_mm']:.3g} mm, {record['end_error_deg']:.3g} deg")
        figures.append(plot_servo_run(result, out / f"table1_example_{case.test}_{case.index}_{method}.png",
                                      title))
    return figures


def _warn_on_scene_mismatch(features, scene) -> None:
    fingerprint = getattr(features.get("pca"), "scene_fingerprint", "")
    if fingerprint and fingerprint != scene.fingerprint:
        print(f"  warning: the PCA basis was fitted on another scene ({fingerprint}, this one is "
              f"{scene.fingerprint}): PCA-VS will be handicapped")
