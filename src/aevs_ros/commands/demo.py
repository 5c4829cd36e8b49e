"""`aevs demo`: the simulated servo loop end to end, with a printed outcome, JSON and a plot."""
from __future__ import annotations

import math
import sys

from ..core.features.registry import FEATURE_FAMILIES, LEARNED_FAMILIES, family

DEFAULT_GOAL = "0,0,0.6,0"
DEFAULT_START = "0.1,-0.1,0.05,0,0,30"
GOAL_METAVAR = "X,Y,Z,ROLL"
START_METAVAR = "DX,DY,DZ,RX,RY,RZ"
#: --size bounds: the derivative filter's border needs a few pixels; DVS at 2048 px already
#: holds a 4M x 6 interaction matrix
MIN_SIZE, MAX_SIZE = 16, 2048


class OptionError(ValueError):
    """A demo option that cannot be used; its message names the option."""


def _floats(text: str, option: str, metavar: str) -> list[float]:
    """The comma-separated finite numbers of ``option`` (one per name of ``metavar``)."""
    count = len(metavar.split(","))
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise OptionError(f"{option} needs {count} comma-separated finite numbers {metavar}, got {text!r}")
    return values


def _check_options(args) -> None:
    """Reject numeric options that would fail deep inside the run (NaN poses, a zero budget)."""
    if not math.isfinite(args.scene_width) or args.scene_width <= 0:
        raise OptionError(f"--scene-width needs a finite width > 0 [m], got {args.scene_width:g}")
    if args.size is not None and not MIN_SIZE <= args.size <= MAX_SIZE:
        raise OptionError(f"--size needs a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {args.size}")
    if args.iterations < 1:
        raise OptionError(f"--iterations needs at least 1, got {args.iterations}")
    if args.gain is not None and (not math.isfinite(args.gain) or args.gain <= 0):
        raise OptionError(f"--gain needs a finite gain > 0 [1/s], got {args.gain:g}")


def _pose(option: str, text: str, make):
    """The pose ``make()`` builds from ``option``, unless numbers too large for it (a rotation
    of 1e308 deg) made it NaN."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        pose = make()
    if not np.isfinite(pose).all():
        raise OptionError(f"{option} {text} gives no valid camera pose (values too large)")
    return pose


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulate the servo loop end to end on the bundled scene",
        description="Render the goal view, start the camera elsewhere, servo until convergence and "
                    "report the outcome (printed, JSON and a PNG plot). AEVS with the shipped model "
                    "is the default; DVS when no model is installed.",
        epilog="example: aevs demo --method dvs --start 0.02,0.01,0.01,2,-2,1 --plot demo.png")
    parser.add_argument("--method", choices=FEATURE_FAMILIES, default=None,
                        help="feature family (default: aevs if its model is installed, else dvs)")
    parser.add_argument("--goal", default=DEFAULT_GOAL, metavar=GOAL_METAVAR,
                        help="goal camera position [m] above the scene, looking straight down, with a "
                             "roll about the optical axis [deg] (default %(default)s)")
    parser.add_argument("--start", default=DEFAULT_START, metavar=START_METAVAR,
                        help="start pose as a displacement in the goal camera frame: translation [m] and "
                             "rotation vector [deg] (default %(default)s)")
    parser.add_argument("--scene", default=None, help="scene image or skimage:NAME (default: bundled astronaut poster)")
    parser.add_argument("--scene-width", type=float, default=0.8, help="scene width [m] (default 0.8)")
    parser.add_argument("--model", default=None,
                        help=f"model file for {'/'.join(LEARNED_FAMILIES)} (default: the shipped one for "
                             "the scene: README \"Which model\")")
    parser.add_argument("--size", type=int, default=None,
                        help="image size in pixels (default: the model's input size, else 128)")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget (default 1500)")
    parser.add_argument("--gain", type=float, default=None, help="control gain lambda [1/s]")
    parser.add_argument("--json", default="demo_results/demo.json", help="outcome JSON path")
    parser.add_argument("--plot", default="demo_results/demo.png", help="plot PNG path ('' for none)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import replace
    from pathlib import Path

    from ..core import se3
    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.features.registry import make_feature, model_input_shape
    from ..core.outcome import format_outcome, outcome_from_simulation, write_json
    from ..core.scene import PlanarScene
    from ..core.simulator import SIMULATED_SERVO, SimConfig, simulate
    from ..resources import ModelChoice, choose_model, default_model_path

    method = args.method or ("aevs" if default_model_path("aevs") else "dvs")
    if args.method is None and method == "dvs":
        print(f"aevs demo: no AEVS model installed ({family('aevs').default_model}); using DVS")
    try:
        _check_options(args)
        goal_x, goal_y, goal_z, goal_roll = _floats(args.goal, "--goal", GOAL_METAVAR)
        start_offset = _floats(args.start, "--start", START_METAVAR)
        goal = _pose("--goal", args.goal, lambda: se3.look_at((goal_x, goal_y, goal_z), (goal_x, goal_y, 0.0),
                                                             roll=float(_radians(goal_roll))))
        start = _pose("--start", args.start, lambda: se3.displaced(goal, start_offset))
        scene = PlanarScene.load(args.scene, args.scene_width)
        choice = (ModelChoice(Path(args.model), "given (--model)") if args.model
                  else choose_model(method, scene.fingerprint))
        model = choice.path
        model_shape = None if args.size else model_input_shape(method, model)
        camera = default_camera(model_shape[1], model_shape[0]) if model_shape else default_camera(args.size or 128)
        feature = make_feature(method, camera, depth=goal_z, model_path=model)
        servo_config = replace(SIMULATED_SERVO, gain=args.gain) if args.gain else SIMULATED_SERVO
        result = simulate(scene, camera, feature, goal, start, servo_config,
                          SimConfig(max_iterations=args.iterations))
    except (AevsError, ValueError) as exc:
        print(f"aevs demo: error: {exc}", file=sys.stderr)
        return 2
    outcome = outcome_from_simulation(result)
    outcome["scene"] = scene.name
    if family(method).needs_model:
        outcome.update(choice.record())
    print(format_outcome(outcome))
    if family(method).needs_model:
        print(f"  model:   {choice.reason}")
    try:
        if args.json:
            _write("--json", args.json, lambda: write_json(outcome, args.json))
            print(f"  outcome: {args.json}")
        if args.plot:
            from ..core.plotting import plot_servo_run

            print(f"  plot:    {_write('--plot', args.plot, lambda: plot_servo_run(result, args.plot))}")
    except OptionError as exc:
        print(f"aevs demo: error: {exc}", file=sys.stderr)
        return 2
    return 0 if outcome["converged"] else 1


def _write(option: str, path: str, write):
    """``write()``'s result; an OSError (no such folder, no permission) names the option."""
    try:
        return write()
    except OSError as exc:
        detail = f"{exc.strerror} ({exc.filename})" if exc.strerror and exc.filename else str(exc)
        raise OptionError(f"cannot write {option} {path}: {detail}") from None


def _radians(degrees: float) -> float:
    import math

    return math.radians(degrees)

