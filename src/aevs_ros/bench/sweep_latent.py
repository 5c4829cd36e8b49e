"""`aevs bench sweep-latent`: AEVS convergence rate against the latent size (the paper's Fig. 5a).

Trains one autoencoder per latent size with aevs_ros.learning.train (TrainConfig defaults for
what the flags below do not set), then runs it on the Table I test sets (same cases, criterion
and control settings as `aevs bench table1`).

SLOW: every size is a full training run plus a closed-loop evaluation. The defaults are small
(64x64 images, 2000 views, 5 epochs, 50 cases per test; on the order of 10-20 min per size on
2 cores) and show the trend only. Settings like the shipped model's (--input-size 128
--train-images 5000 --epochs 6 --cases 500) take hours per size. Models already trained with
the same settings are reused.
"""
from __future__ import annotations

import argparse

from . import DEFAULT_OUT, benchmark_parser, output_path


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(value) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"latent sizes must be integers, got {text!r}") from None
    if not sizes or sizes[0] < 6:
        raise argparse.ArgumentTypeError("latent sizes must be at least 6 (one per degree of freedom)")
    return sizes


def add_parser(subparsers) -> None:
    from .table1 import parse_tests

    parser = benchmark_parser(
        subparsers, "sweep-latent", "AEVS convergence rate vs latent size (trains one model per size: slow)", __doc__,
        "\n\nexample:\n  aevs bench sweep-latent --sizes 8,16,32 --cases 50")
    parser.add_argument("--sizes", type=_sizes, default=[8, 16, 32], help="latent sizes (default 8,16,32)")
    parser.add_argument("--input-size", type=int, default=64, help="image size in pixels (default 64)")
    parser.add_argument("--train-images", type=int, default=2000, help="training views (default 2000)")
    parser.add_argument("--val-images", type=int, default=200, help="validation views (default 200)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--cases", type=int, default=50, help="cases per test set (default 50)")
    parser.add_argument("--tests", type=parse_tests, default=["look_at", "screw"],
                        help="comma-separated test sets (default look_at,screw)")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget (default 1500)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--retrain", action="store_true", help="train again even if the model file exists")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/sweep_latent.json)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder of the results; models go to <out>/sweep_latent/ (default %(default)s)")
    parser.set_defaults(func=run)


def train_model(args, latent_dim: int, folder) -> dict:
    """Train (or reuse) the autoencoder of one latent size; returns where it is and how it went."""
    import json

    from ..learning.config import TrainConfig

    config = TrainConfig(latent_dim=latent_dim, input_size=args.input_size, train_images=args.train_images,
                         val_images=args.val_images, epochs=args.epochs,
                         out=str(folder / f"aevs_d{latent_dim}.pt"),
                         work_dir=str(folder / f"work_d{latent_dim}"))
    settings_file = folder / f"aevs_d{latent_dim}.settings.json"
    settings = json.dumps({key: value for key, value in vars(config).items() if key != "progress"},
                          sort_keys=True, default=str)
    model = folder / f"aevs_d{latent_dim}.pt"
    trained_alike = settings_file.is_file() and settings_file.read_text() == settings
    if not args.retrain and model.is_file() and trained_alike:
        print(f"latent size {latent_dim}: reusing {model}")
        return {"model": str(model), "reused": True}
    from ..learning.train import train

    print(f"latent size {latent_dim}: training {model}")
    result = train(config, command_line=f"aevs bench sweep-latent (latent size {latent_dim})")
    settings_file.write_text(settings)
    return {"model": str(result.model_path), "reused": False, "train_loss": result.train_loss,
            "val_loss": result.val_loss, "training_seconds": result.training_seconds}


def run(args) -> int:
    import os
    from dataclasses import asdict
    from pathlib import Path

    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.outcome import write_json
    from ..core.scene import PlanarScene
    from ..core.simulator import SIMULATED_SERVO, SimConfig
    from . import machine_info
    from .plots import plot_latent_sweep
    from .convergence import criterion_text, summarize_all
    from .table1 import evaluate, prepare_cases

    folder = Path(args.out) / "sweep_latent"
    folder.mkdir(parents=True, exist_ok=True)
    servo, sim = SIMULATED_SERVO, SimConfig(max_iterations=args.iterations)
    camera, scene = default_camera(args.input_size), PlanarScene.load()
    cases, dropped = prepare_cases(args.tests, args.cases, scene, camera, sim.min_visible_fraction)
    workers = max(1, args.workers or os.cpu_count() or 1)
    training, results = {}, {}
    try:
        for latent_dim in args.sizes:
            training[latent_dim] = train_model(args, latent_dim, folder)
            settings = {"methods": ["aevs"], "size": args.input_size, "scene": None,
                        "models": {"aevs": training[latent_dim]["model"]},
                        "servo": asdict(servo), "sim": asdict(sim)}
            records, _, _ = evaluate(cases, settings, workers)
            results[latent_dim] = {test: summaries["aevs"] for test, summaries in
                                   summarize_all(records, cases, dropped, ["aevs"]).items()}
            print(f"latent size {latent_dim}: " + ", ".join(
                f"{test} {summary['converged_rate']:.1%}" for test, summary in results[latent_dim].items()))
    except AevsError as exc:
        print(f"aevs bench sweep-latent: error: {exc}")
        return 2
    report = {"criterion": criterion_text(), "sizes": args.sizes, "iterations": args.iterations,
              "input_size": args.input_size, "train_images": args.train_images, "epochs": args.epochs,
              "cases_requested": args.cases, "machine": machine_info(), "training": training,
              "results": results}
    json_path = output_path(args.out, args.json, "sweep_latent")
    write_json(report, json_path)
    rates = {test: [results[size][test]["converged_rate"] or 0.0 for size in args.sizes]
             for test in args.tests}
    figure = plot_latent_sweep(args.sizes, rates, Path(args.out) / "sweep_latent.png")
    print(f"  JSON: {json_path}\n  figure: {figure}")
    return 0
