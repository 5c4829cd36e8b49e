"""What the model sweeps (`aevs bench sweep-latent`, `sweep-depth`, `sweep-loss`) share: train one
autoencoder per variant of the training settings (or reuse one trained with the same settings),
then run it on the Table I test sets with `aevs bench table1`'s runner, cases, criterion and
control settings.
"""
from __future__ import annotations

from . import DEFAULT_OUT, output_path

#: TrainConfig settings that do not change the model trained: a model differing only in these is reused
NOT_TRAINED = ("progress", "threads", "device")


def int_list(text: str, what: str, minimum: int, why: str = "") -> list[int]:
    """The comma-separated integers of a sweep flag, first occurrences in order; ArgumentTypeError
    (``what`` names them, ``why`` says why the minimum) if one is not an integer or is below ``minimum``."""
    import argparse

    try:
        values = list(dict.fromkeys(int(value) for value in text.split(",") if value.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be integers, got {text!r}") from None
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}{why}")
    return values


def add_sweep_arguments(parser, name: str, input_size: int = 64, train_images: int = 2000,
                        epochs: int = 5, cases: int = 50) -> None:
    """The training-budget and evaluation flags of a sweep named ``name`` (its JSON and folder)."""
    from .table1 import parse_tests

    parser.add_argument("--input-size", type=int, default=input_size,
                        help="image size in pixels (default %(default)s)")
    parser.add_argument("--train-images", type=int, default=train_images,
                        help="training views per model (default %(default)s)")
    parser.add_argument("--val-images", type=int, default=200, help="validation views (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs (default %(default)s)")
    parser.add_argument("--cases", type=int, default=cases, help="cases per test set (default %(default)s)")
    parser.add_argument("--tests", type=parse_tests, default=["look_at", "screw"],
                        help="comma-separated test sets (default look_at,screw)")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget (default %(default)s)")
    parser.add_argument("--servo", action="append", default=[], metavar="NAME=VALUE",
                        help="a core.servo.ServoConfig setting of the evaluation, e.g. roll_aid=0 for the law "
                             "alone (repeatable; default: the simulations' law, core.simulator.SIMULATED_SERVO)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of the training (default 0: torch's default; 1 is much faster "
                             "on a machine whose cores are busy with other work)")
    parser.add_argument("--retrain", action="store_true", help="train again even if the model file exists")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/{name}.json)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"folder of the results; models go to <out>/{name}/ (default %(default)s)")


def train_model(args, label: str, folder, command_line: str, **architecture) -> dict:
    """Train (or reuse) the autoencoder ``<folder>/aevs_<label>.pt`` with these TrainConfig
    architecture settings and the budget flags of ``args``; returns where it is and how it went."""
    from ..learning.config import TrainConfig

    config = TrainConfig(input_size=args.input_size, train_images=args.train_images,
                         val_images=args.val_images, epochs=args.epochs, threads=args.threads,
                         out=str(folder / f"aevs_{label}.pt"), work_dir=str(folder / f"work_{label}"),
                         **architecture)
    return train_or_reuse(config, label, command_line, args.retrain)


def train_or_reuse(config, label: str, command_line: str, retrain: bool = False) -> dict:
    """Train ``config`` into config.out, or reuse the model there if it was trained with the
    same settings (recorded beside it); returns where it is, its losses and training seconds."""
    import json
    from pathlib import Path

    model = Path(config.out)
    settings_file = model.with_name(model.stem + ".settings.json")
    settings = json.dumps({key: value for key, value in vars(config).items() if key not in NOT_TRAINED},
                          sort_keys=True, default=str)
    if not retrain and model.is_file() and settings_file.is_file() and settings_file.read_text() == settings:
        from ..core.network.model import load_model

        metadata = load_model(model).metadata
        print(f"{label}: reusing {model}")
        return {"model": str(model), "reused": True, "train_loss": metadata.get("train_loss"),
                "val_loss": metadata.get("val_loss"), "training_seconds": metadata.get("training_seconds")}
    from ..learning.train import train

    print(f"{label}: training {model}")
    result = train(config, command_line=command_line)
    settings_file.write_text(settings)
    return {"model": str(result.model_path), "reused": False, "train_loss": result.train_loss,
            "val_loss": result.val_loss, "training_seconds": result.training_seconds}


def run_sweep(args, name: str, setting: str, values: list[int], label):
    """Train and evaluate one model per value of TrainConfig field ``setting``, in the order given;
    ``label(value)`` names each model file. See run_variants (keyed by value)."""
    return run_variants(args, name, [(value, label(value), {setting: value}) for value in values])


def run_variants(args, name: str, variants: list[tuple]):
    """Train and evaluate one model per variant ``(key, label, TrainConfig settings)``, in the order
    given; ``label`` names the model file.

    After each variant, yields what is done so far: (training {key: record}, results
    {key: {test: summary}}, evaluation wall time {key: s}), so that a caller can write its report
    after each model and a stopped sweep keeps the variants it finished. Raises AevsError.
    """
    import os
    from dataclasses import asdict
    from pathlib import Path

    from ..core.camera import default_camera
    from ..core.scene import PlanarScene
    from .convergence import summarize_all
    from .table1 import evaluate, prepare_cases, simulation_law

    folder = Path(args.out) / name
    folder.mkdir(parents=True, exist_ok=True)
    servo, sim = simulation_law(args.servo, args.iterations)
    camera, scene = default_camera(args.input_size), PlanarScene.load()
    cases, dropped = prepare_cases(args.tests, args.cases, scene, camera, sim.min_visible_fraction)
    workers = max(1, args.workers or os.cpu_count() or 1)
    training, results, seconds = {}, {}, {}
    for key, label, settings in variants:
        described = ", ".join(f"{setting} {value}" for setting, value in settings.items())
        training[key] = train_model(args, label, folder, f"aevs bench {name.replace('_', '-')} ({described})",
                                    **settings)
        run_settings = {"methods": ["aevs"], "size": args.input_size, "scene": None,
                        "models": {"aevs": training[key]["model"]}, "servo": asdict(servo), "sim": asdict(sim)}
        records, _, seconds[key] = evaluate(cases, run_settings, workers)
        results[key] = {test: summaries["aevs"] for test, summaries in
                        summarize_all(records, cases, dropped, ["aevs"]).items()}
        print(f"{described}: " + ", ".join(
            f"{test} {summary['converged_rate']:.1%}" for test, summary in results[key].items()))
        yield training, results, seconds


def write_sweep_progress(args, name: str, values_key: str, sweep, plot) -> None:
    """Write the report and figure of ``sweep`` (run_sweep's generator) after every model."""
    for training, results, seconds in sweep:
        done = sorted(results)
        write_sweep(args, name, sweep_report(args, values_key, done, training, results, seconds), plot, done)


def sweep_report(args, values_key: str, values: list[int], training: dict, results: dict,
                 evaluation_seconds: dict) -> dict:
    """The JSON both sweeps write (their settings, the machine, per-value training, evaluation
    wall time and results)."""
    return {**sweep_settings(args), values_key: values,
            "training": {value: training[value] for value in values},
            "evaluation_wall_s": {value: evaluation_seconds[value] for value in values},
            "results": {value: results[value] for value in values}}


def sweep_settings(args) -> dict:
    """What every sweep's JSON records of its budget, law, criterion and machine."""
    from dataclasses import asdict

    from . import machine_info
    from .convergence import criterion_text
    from .table1 import simulation_law

    return {"criterion": criterion_text(), "iterations": args.iterations,
            "servo_config": asdict(simulation_law(args.servo, args.iterations)[0]), "input_size": args.input_size,
            "train_images": args.train_images, "val_images": args.val_images, "epochs": args.epochs,
            "cases_requested": args.cases, "machine": machine_info()}


def write_sweep(args, name: str, report: dict, plot, values: list[int]) -> None:
    """Write the JSON and the figure ``plot(values, {test: rates}, path)``; print where they went."""
    from pathlib import Path

    from ..core.outcome import write_json

    json_path = output_path(args.out, args.json, name)
    write_json(report, json_path)
    rates = {test: [report["results"][value][test]["converged_rate"] or 0.0 for value in values]
             for test in args.tests}
    figure = plot(values, rates, Path(args.out) / f"{name}.png")
    print(f"  JSON: {json_path}\n  figure: {figure}")
