"""`aevs bench landscape`: the servoing cost over x/y camera translations around the goal (Fig. 3).

The goal camera is 0.6 m above the scene centre looking straight down. On a grid of
translations in its image plane the cost |s - s*|^2 of each method is evaluated. Besides the
heat maps, the JSON gives for each method where the grid minimum lies and the share of the
grid from which steepest descent over neighbouring cells reaches the goal cell: a number for
how wide and how free of local minima the basin is.
"""
from __future__ import annotations


from . import DEFAULT_OUT, METHODS, benchmark_parser, output_path, parse_methods


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "landscape", "cost |s - s*|^2 over x/y translations around the goal, per method (Fig. 3)", __doc__,
        "\n\nexample:\n  aevs bench landscape "
                    "--methods dvs,dct,pca,aevs --extent 0.1 --points 41")
    parser.add_argument("--methods", type=parse_methods, default=list(METHODS),
                        help=f"comma-separated feature families (default {','.join(METHODS)})")
    parser.add_argument("--extent", type=float, default=0.10,
                        help="half width of the grid of translations [m] (default %(default)s)")
    parser.add_argument("--points", type=int, default=41,
                        help="grid points per axis, odd so the goal is a grid point (default %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels (default 128)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--pca", default=None, help="PCA basis (default: the shipped one)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/landscape.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the PNG (default %(default)s)")
    parser.set_defaults(func=run)


def cost_grids(scene, camera, features: dict, offsets_m):
    """{method: cost (n, n)}, rows along the camera's y translation, columns along x."""
    import numpy as np

    from ..core import se3

    goal = se3.look_at((0.0, 0.0, 0.6), (0.0, 0.0, 0.0))
    goal_image = scene.render(camera, goal).image
    for feature in features.values():
        feature.bind_goal(goal_image)  # as the servo does: siame compares each view with it
    goal_features = {method: feature.compute(goal_image, with_interaction=False).s
                     for method, feature in features.items()}
    grids = {method: np.empty((len(offsets_m), len(offsets_m))) for method in features}
    for row, ty in enumerate(offsets_m):
        for column, tx in enumerate(offsets_m):
            image = scene.render(camera, se3.displaced(goal, (tx, ty, 0.0, 0.0, 0.0, 0.0))).image
            for method, feature in features.items():
                error = feature.compute(image, with_interaction=False).s - goal_features[method]
                grids[method][row, column] = float(error @ error)
    return grids


def descent_basin_fraction(cost, goal_index: tuple[int, int]) -> float:
    """Share of grid cells from which always stepping to the lowest of the 8 neighbours ends at the goal."""
    import numpy as np

    rows, cols = cost.shape
    padded = np.pad(cost, 1, constant_values=np.inf)
    neighbours = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    stacked = np.stack([padded[1 + dr:rows + 1 + dr, 1 + dc:cols + 1 + dc] for dr, dc in neighbours])
    best = stacked.argmin(axis=0)  # the centre (0, 0) wins ties, so minima point at themselves
    next_row = np.arange(rows)[:, None] + np.array([dr for dr, _ in neighbours])[best]
    next_col = np.arange(cols)[None, :] + np.array([dc for _, dc in neighbours])[best]
    row, col = np.indices(cost.shape)
    for _ in range(rows * cols):
        row, col = next_row[row, col], next_col[row, col]
    return float(np.mean((row == goal_index[0]) & (col == goal_index[1])))


def summarize(cost, offsets_m) -> dict:
    import numpy as np

    centre = len(offsets_m) // 2
    row, col = np.unravel_index(np.argmin(cost), cost.shape)
    return {"minimum_at_m": [float(offsets_m[col]), float(offsets_m[row])],
            "minimum_at_goal": bool(row == centre and col == centre),
            "cost_at_goal": float(cost[centre, centre]), "cost_min": float(cost.min()),
            "cost_max": float(cost.max()),
            "descent_basin_fraction": descent_basin_fraction(cost, (centre, centre)),
            "cost": cost.tolist()}


def run(args) -> int:
    import numpy as np

    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.outcome import write_json
    from ..core.scene import PlanarScene
    from . import build_features, model_paths, report_skipped
    from .plots import plot_landscapes

    if args.points < 3 or args.points % 2 == 0 or not args.extent > 0:
        print("aevs bench landscape: error: --points must be odd and >= 3, --extent positive")
        return 2
    try:
        camera = default_camera(args.size)
        scene = PlanarScene.load(args.scene)
        features, skipped = build_features(args.methods, camera, 0.6, model_paths(args.pca, args.model))
    except AevsError as exc:
        print(f"aevs bench landscape: error: {exc}")
        return 2
    report_skipped(skipped)
    if not features:
        print("aevs bench landscape: error: no method to evaluate")
        return 2
    offsets = np.linspace(-args.extent, args.extent, args.points)
    grids = cost_grids(scene, camera, features, offsets)
    summaries = {method: summarize(cost, offsets) for method, cost in grids.items()}
    print(f"cost landscape over +-{args.extent * 100:g} cm x/y translations, "
          f"{args.points}x{args.points} grid")
    for method, summary in summaries.items():
        print(f"  {method:5s} minimum at ({summary['minimum_at_m'][0] * 100:+.1f}, "
              f"{summary['minimum_at_m'][1] * 100:+.1f}) cm, descent reaches the goal from "
              f"{summary['descent_basin_fraction']:.0%} of the grid")
    report = {"extent_m": args.extent, "points": args.points, "offsets_m": offsets.tolist(),
              "image_size": [args.size, args.size], "scene": scene.name, "skipped_methods": skipped,
              "methods": summaries}
    json_path = output_path(args.out, args.json, "landscape")
    write_json(report, json_path)
    figure = plot_landscapes(grids, offsets, f"{args.out}/landscape.png")
    print(f"  JSON: {json_path}\n  figure: {figure}")
    return 0
