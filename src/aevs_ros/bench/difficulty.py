"""`aevs bench difficulty`: convergence on batches of growing difficulty (the paper's Fig. 6, Sec. IV-D).

The goal is Table I's: 0.6 m above the scene centre, looking straight down. Each batch draws its
start cameras from zero-mean Gaussian offsets of the goal position, with standard deviation
sigma on x and y and sigma / 2 on z; a start camera looks at the scene centre plus a point
uniform in [-10, 10] cm on x and y (so that start and goal views overlap) and is rolled about
its optical axis by a uniform angle in [-30, 30] deg. A start the gantry cannot reach (outside
the workspace box or the joint limits of config/gantry.yaml, checked with its kinematic model)
or whose view sees too little of the scene is drawn again, so every batch holds the same number
of cases; the redraws are counted. Each batch has its own fixed seed and its cases are drawn one
at a time, so the first N cases are the same whatever the count.

Every method runs on the same cases with `aevs bench table1`'s runner, worker pool, criterion
and servo settings.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import DEFAULT_OUT, METHODS, benchmark_parser, parse_methods, write_report

SIGMAS_CM = (2.0, 5.0, 10.0, 20.0, 40.0)  #: x/y standard deviation of each batch, as the paper's
DEFAULT_CASES = 25  #: per batch, as the paper
Z_SIGMA_SHARE = 0.5  #: the z offsets' standard deviation is this share of the batch's x/y one
FOCUS_NOISE_M = 0.10  #: the start camera looks at the centre plus U([-e, e]^2)
MAX_ROLL_DEG = 30.0  #: roll about the optical axis U([-r, r])
DIFFICULTY_SEED = 2116
#: draws allowed per case before giving up (a batch that the gantry can hardly reach)
MAX_DRAWS_PER_CASE = 1000

if TYPE_CHECKING:
    import numpy as np

    from ..robot import GantryModel, SafetyConfig


@dataclass(frozen=True)
class GantryReach:
    """Which camera poses the gantry can take: its kinematic model and safety limits."""

    model: GantryModel
    safety: SafetyConfig

    @classmethod
    def from_parameter_file(cls, path=None) -> GantryReach:
        """From gantry_driver's parameters in ``path`` (default config/gantry.yaml)."""
        from ..graph import NODE_CONFIG, config_dir, preset_parameters
        from ..robot import config_from_parameters

        path = path or config_dir() / NODE_CONFIG["gantry_driver"]
        try:
            parameters = preset_parameters(path, "gantry_driver")
        except (OSError, ValueError) as exc:
            from ..core.errors import ConfigurationError

            raise ConfigurationError(f"cannot read the gantry parameters: {exc}") from None
        return cls(*config_from_parameters(parameters))

    def reaches(self, world_T_camera: np.ndarray) -> bool:
        """Inside the workspace box with joint positions inside their limits."""
        from ..core.errors import ConfigurationError
        from ..robot import initial_joint_positions
        from ..core.se3 import pose_to_list

        try:
            initial_joint_positions(self.model, self.safety, camera_pose=pose_to_list(world_T_camera))
        except ConfigurationError:
            return False
        return True


def batch_label(sigma_cm: float) -> str:
    """The test name of a batch's cases and records: 'sigma_10cm'."""
    return f"sigma_{sigma_cm:g}cm"


def difficulty_goal() -> np.ndarray:
    """Table I's goal: 0.6 m above the scene centre, looking straight down."""
    from ..core import se3
    from .cases import GOAL_HEIGHT_M

    return se3.look_at((0.0, 0.0, GOAL_HEIGHT_M), (0.0, 0.0, 0.0))


def difficulty_cases(sigma_cm: float, count: int, reach: GantryReach, scene, camera,
                     min_visible_fraction: float, seed: int = DIFFICULTY_SEED) -> tuple[list, dict]:
    """(cases, redraws) of one batch: ``count`` ServoCases and how many draws were refused why.

    Raises ConfigurationError when a case needs more than MAX_DRAWS_PER_CASE draws.
    """
    import numpy as np

    from ..core import se3
    from ..core.errors import ConfigurationError
    from .cases import ServoCase

    rng = np.random.default_rng([seed, round(sigma_cm * 1000)])  # its own stream per batch
    goal = difficulty_goal()
    sigma_m = sigma_cm / 100 * np.array([1.0, 1.0, Z_SIGMA_SHARE])
    redraws = {"unreachable": 0, "scene out of view": 0}
    cases = []
    for index in range(count):
        for _ in range(MAX_DRAWS_PER_CASE):
            eye = goal[:3, 3] + rng.normal(0.0, sigma_m)
            focus = (*rng.uniform(-FOCUS_NOISE_M, FOCUS_NOISE_M, 2), 0.0)
            roll = np.radians(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG))
            if eye[2] <= 0:  # under the scene plane: not a camera above it
                redraws["unreachable"] += 1
                continue
            start = se3.look_at(eye, focus, roll)
            if not reach.reaches(start):
                redraws["unreachable"] += 1
            elif scene.visible_fraction(camera, start) < min_visible_fraction:
                redraws["scene out of view"] += 1
            else:
                cases.append(ServoCase(batch_label(sigma_cm), index, goal, start))
                break
        else:
            raise ConfigurationError(f"batch sigma {sigma_cm:g} cm: no start the gantry reaches in "
                                     f"{MAX_DRAWS_PER_CASE} draws")
    return cases, redraws


def _sigmas(text: str) -> list[float]:
    try:
        sigmas = sorted({float(value) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"sigmas must be numbers (cm), got {text!r}") from None
    if not sigmas or sigmas[0] <= 0:
        raise argparse.ArgumentTypeError("sigmas must be positive (cm)")
    return sigmas


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "difficulty", "convergence of every method on batches of growing start distance (Fig. 6)",
        __doc__, """

examples:
  aevs bench difficulty --cases 5 --methods dvs,aevs     # a quick look
  aevs bench difficulty                                  # 25 cases x 5 batches x 4 methods""")
    parser.add_argument("--sigmas", type=_sigmas, default=list(SIGMAS_CM),
                        help="x/y standard deviations of the batches in cm (z: half) "
                             f"(default {','.join(f'{s:g}' for s in SIGMAS_CM)})")
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="cases per batch (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DIFFICULTY_SEED, help="seed of the batches (default %(default)s)")
    parser.add_argument("--methods", type=parse_methods, default=list(METHODS),
                        help=f"comma-separated feature families (default {','.join(METHODS)})")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget per run (default %(default)s)")
    parser.add_argument("--servo", action="append", default=[], metavar="NAME=VALUE",
                        help="a core.servo.ServoConfig setting for every method (repeatable; "
                             "default: the simulations' law, core.simulator.SIMULATED_SERVO)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--pca", default=None, help="PCA basis (default: the shipped one)")
    parser.add_argument("--gantry", default=None,
                        help="gantry_driver parameter file whose workspace and joint limits the starts "
                             "must respect (default config/gantry.yaml)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/difficulty.json)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder of the figures, Markdown table and default JSON (default %(default)s)")
    parser.set_defaults(func=run)


def markdown_table(results: dict, sigmas: list[float], methods: list[str]) -> str:
    """Per batch: convergence % (converged / cases) and median end error of each method."""
    lines = ["| σ x/y (z) cm | " + " | ".join(f"{method} conv. %" for method in methods) + " | "
             + " | ".join(f"{method} median end error mm, °" for method in methods) + " |",
             "|---|" + "---|" * (2 * len(methods))]
    for sigma in sigmas:
        summaries = [results[f"{sigma:g}"][method] for method in methods]
        rates = [f"{100 * s['converged_rate']:.0f} ({s['converged']}/{s['cases']})" for s in summaries]
        errors = ["-" if s["median_end_error_mm"] is None else
                  f"{s['median_end_error_mm']:.2g}, {s['median_end_error_deg']:.2g}" for s in summaries]
        lines.append(f"| {sigma:g} ({sigma * Z_SIGMA_SHARE:g}) | " + " | ".join(rates + errors) + " |")
    return "\n".join(lines)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from ..core import se3
    from ..core.errors import AevsError
    from . import machine_info
    from .convergence import criterion_text, summarize_all
    from .plots import plot_difficulty_paths, plot_difficulty_rates
    from .table1 import RunSetup, evaluate, worker_count

    if args.cases < 1 or args.iterations < 1:
        print("aevs bench difficulty: error: --cases and --iterations must be positive")
        return 2
    try:
        setup = RunSetup(args)
        sim, camera, scene, methods = setup.sim, setup.camera, setup.scene, setup.methods
        reach = GantryReach.from_parameter_file(args.gantry)
        cases, batches = {}, {}
        for sigma in args.sigmas:
            label = batch_label(sigma)
            cases[label], redraws = difficulty_cases(sigma, args.cases, reach, scene, camera,
                                                     sim.min_visible_fraction, args.seed)
            start_errors = np.array([se3.pose_error(case.start_pose, case.goal_pose) for case in cases[label]])
            batches[f"{sigma:g}"] = {"label": label, "sigma_xy_m": sigma / 100, "sigma_z_m": sigma / 100 * Z_SIGMA_SHARE,
                                     "cases": len(cases[label]), "redrawn": redraws,
                                     "median_start_error_mm": float(np.median(start_errors[:, 0]) * 1000),
                                     "median_start_error_deg": float(np.median(start_errors[:, 1]))}
            print(f"σ {sigma:g} cm: {len(cases[label])} cases, median start error "
                  f"{batches[f'{sigma:g}']['median_start_error_mm']:.0f} mm, "
                  f"{batches[f'{sigma:g}']['median_start_error_deg']:.1f}°; redrawn: "
                  + ", ".join(f"{count} {why}" for why, count in redraws.items()))
    except AevsError as exc:
        print(f"aevs bench difficulty: error: {exc}")
        return 2
    settings = setup.settings(record_positions=True)
    workers = worker_count(args.workers, args.cases * len(args.sigmas) * len(methods))
    records, _, elapsed = evaluate(cases, settings, workers)
    trajectories = {}
    for record in records:
        positions = record.pop("positions_m", None) or [case_start(cases, record)]
        trajectories[(record["test"], record["case"], record["method"])] = np.array(positions)
        record["start_position_m"], record["final_position_m"] = positions[0], positions[-1]
    by_label = summarize_all(records, cases, {label: 0 for label in cases}, methods)
    results = {f"{sigma:g}": by_label[batch_label(sigma)] for sigma in args.sigmas}
    table = markdown_table(results, args.sigmas, methods)
    print(f"\n{table}\n\nwall time {elapsed:.0f} s on {workers} workers")
    report = {
        "criterion": criterion_text(), "goal_pose": difficulty_goal().tolist(), "sigmas_cm": args.sigmas,
        "z_sigma_share": Z_SIGMA_SHARE, "focus_noise_m": FOCUS_NOISE_M, "max_roll_deg": MAX_ROLL_DEG,
        "seed": args.seed, "cases_per_batch": args.cases, "iterations": args.iterations,
        **setup.record(),
        "workspace": {"min": reach.safety.workspace.minimum.tolist(), "max": reach.safety.workspace.maximum.tolist()},
        "workers": workers,
        "wall_time_s": elapsed, "machine": machine_info(), "batches": batches, "results": results,
        "records": records,
    }
    out = Path(args.out)
    json_path, markdown_path = write_report(args, "difficulty", report, table)
    figures = [plot_difficulty_rates(results, args.sigmas, methods, out / "difficulty.png"),
               plot_difficulty_paths(trajectories, records, args.sigmas, methods, difficulty_goal()[:3, 3],
                                     out / "difficulty_paths.png")]
    print(f"  JSON: {json_path}\n  table: {markdown_path}\n  figures: "
          + ", ".join(str(path) for path in figures))
    return 0


def case_start(cases: dict, record: dict) -> list:
    """The start position of a record's case (for a run the simulator refused: no path)."""
    case = next(case for case in cases[record["test"]] if case.index == record["case"])
    return case.start_pose[:3, 3].tolist()
