"""`aevs demo`: the simulated servo loop end to end, with a printed outcome, JSON and a plot."""
from __future__ import annotations

import argparse

DEFAULT_GOAL = "0,0,0.6,0"
DEFAULT_START = "0.1,-0.1,0.05,0,0,30"


def _floats(text: str, count: int, what: str) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{what} needs {count} comma-separated numbers, got {text!r}")
    return values


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulate the servo loop end to end on the bundled scene",
        description="Render the goal view, start the camera elsewhere, servo until convergence and "
                    "report the outcome (printed, JSON and a PNG plot). AEVS with the shipped model "
                    "is the default; DVS when no model is installed.",
        epilog="example: aevs demo --method dvs --start 0.02,0.01,0.01,2,-2,1 --plot demo.png")
    parser.add_argument("--method", choices=["dvs", "pca", "dct", "aevs"], default=None,
                        help="feature family (default: aevs if its model is installed, else dvs)")
    parser.add_argument("--goal", default=DEFAULT_GOAL, metavar="X,Y,Z,ROLL",
                        help="goal camera position [m] above the scene, looking straight down, with a "
                             "roll about the optical axis [deg] (default %(default)s)")
    parser.add_argument("--start", default=DEFAULT_START, metavar="DX,DY,DZ,RX,RY,RZ",
                        help="start pose as a displacement in the goal camera frame: translation [m] and "
                             "rotation vector [deg] (default %(default)s)")
    parser.add_argument("--scene", default=None, help="scene image (default: bundled astronaut poster)")
    parser.add_argument("--scene-width", type=float, default=0.8, help="scene width [m] (default 0.8)")
    parser.add_argument("--model", default=None, help="model file for pca/aevs (default: the shipped one)")
    parser.add_argument("--size", type=int, default=None,
                        help="image size in pixels (default: the model's input size, else 128)")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget (default 1500)")
    parser.add_argument("--gain", type=float, default=None, help="control gain lambda [1/s]")
    parser.add_argument("--json", default="demo_results/demo.json", help="outcome JSON path")
    parser.add_argument("--plot", default="demo_results/demo.png", help="plot PNG path ('' for none)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core import se3
    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.features.base import make_feature
    from ..core.outcome import format_outcome, outcome_from_simulation, write_json
    from ..core.scene import PlanarScene
    from ..core.servo import ServoConfig
    from ..core.simulator import SimConfig, simulate
    from ..resources import default_model_path

    method = args.method or ("aevs" if default_model_path("aevs") else "dvs")
    if args.method is None and method == "dvs":
        print("aevs demo: no AEVS model installed (models/aevs_default.pt); using DVS")
    try:
        goal_x, goal_y, goal_z, goal_roll = _floats(args.goal, 4, "--goal")
        start_offset = _floats(args.start, 6, "--start")
        model = args.model or default_model_path(method)
        size = args.size or _model_input_size(method, model) or 128
        camera = default_camera(size)
        scene = PlanarScene.load(args.scene, args.scene_width)
        feature = make_feature(method, camera, depth=goal_z, model_path=model)
        goal = se3.look_at((goal_x, goal_y, goal_z), (goal_x, goal_y, 0.0), roll=float(_radians(goal_roll)))
        start = se3.displaced(goal, start_offset)
        servo_config = ServoConfig(gain=args.gain) if args.gain else ServoConfig()
        result = simulate(scene, camera, feature, goal, start, servo_config,
                          SimConfig(max_iterations=args.iterations))
    except (AevsError, argparse.ArgumentTypeError, ValueError) as exc:
        print(f"aevs demo: error: {exc}")
        return 2
    outcome = outcome_from_simulation(result)
    outcome["scene"] = scene.name
    print(format_outcome(outcome))
    if args.json:
        write_json(outcome, args.json)
        print(f"  outcome: {args.json}")
    if args.plot:
        from ..core.plotting import plot_servo_run

        print(f"  plot:    {plot_servo_run(result, args.plot)}")
    return 0 if outcome["converged"] else 1


def _radians(degrees: float) -> float:
    import math

    return math.radians(degrees)


def _model_input_size(method: str, model) -> int | None:
    """The square input size a learned model was trained at, so the demo renders at that size."""
    if method != "aevs" or model is None:
        return None
    from ..core.features.autoencoder import model_input_size

    return model_input_size(model)
