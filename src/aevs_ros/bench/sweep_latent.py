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

from . import benchmark_parser
from .model_sweep import add_sweep_arguments, run_sweep, write_sweep_progress


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(value) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"latent sizes must be integers, got {text!r}") from None
    if not sizes or sizes[0] < 6:
        raise argparse.ArgumentTypeError("latent sizes must be at least 6 (one per degree of freedom)")
    return sizes


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "sweep-latent", "AEVS convergence rate vs latent size (trains one model per size: slow)", __doc__,
        "\n\nexample:\n  aevs bench sweep-latent --sizes 8,16,32 --cases 50")
    parser.add_argument("--sizes", type=_sizes, default=[8, 16, 32], help="latent sizes (default 8,16,32)")
    add_sweep_arguments(parser, "sweep_latent")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.errors import AevsError
    from .plots import plot_latent_sweep

    try:
        sweep = run_sweep(args, "sweep_latent", "latent_dim", args.sizes, lambda size: f"d{size}")
        write_sweep_progress(args, "sweep_latent", "sizes", sweep, plot_latent_sweep)
    except AevsError as exc:
        print(f"aevs bench sweep-latent: error: {exc}")
        return 2
    return 0
