"""`aevs bench sweep-loss`: AEVS convergence rate per training loss, over several seeds (the
paper's Fig. 4).

One autoencoder per loss and seed (dct: the frequency-weighted DCT loss of Eq. 9, the default;
bce: the pixel-wise binary cross-entropy of Eq. 8), trained with aevs_ros.learning.train
(TrainConfig defaults for what the flags below do not set; the seed draws the views, the initial
weights and the shuffling), then run on the Table I test sets (same cases, criterion and control
settings as `aevs bench table1`). Reports each loss's median, minimum and maximum convergence
rate across the seeds, per test set.

SLOW: every loss and seed is a training run plus a closed-loop evaluation. The defaults (64x64
images, 2000 views, 5 epochs, 20 cases per test, 5 seeds) are a reduced budget that shows the
spread only; the shipped model saw 10000 128x128 views x 24 epochs. Models already trained with
the same settings are reused, and the JSON and figure are rewritten after every model.
"""
from __future__ import annotations

import argparse
import statistics

from . import benchmark_parser
from .model_sweep import add_sweep_arguments, int_list, run_variants, sweep_settings


def _losses(text: str) -> list[str]:
    from ..learning.config import LOSSES

    losses = list(dict.fromkeys(value.strip() for value in text.split(",") if value.strip()))
    unknown = [loss for loss in losses if loss not in LOSSES]
    if not losses or unknown:
        raise argparse.ArgumentTypeError(f"losses must be among {', '.join(LOSSES)}, got {text!r}")
    return losses


def _seeds(text: str) -> list[int]:
    return int_list(text, "seeds", 0)


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "sweep-loss", "AEVS convergence rate per training loss over seeds (Fig. 4; trains one model "
        "per loss and seed: slow)", __doc__,
        "\n\nexample:\n  aevs bench sweep-loss --losses dct,bce --seeds 0,1,2,3,4 --cases 20")
    parser.add_argument("--losses", type=_losses, default=["dct", "bce"], help="losses (default dct,bce)")
    parser.add_argument("--seeds", type=_seeds, default=[0, 1, 2, 3, 4],
                        help="training seeds, one model per loss and seed (default 0,1,2,3,4)")
    add_sweep_arguments(parser, "sweep_loss", cases=20)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.errors import AevsError

    variants = [((loss, seed), f"{loss}_seed{seed}", {"loss": loss, "seed": seed})
                for loss in args.losses for seed in args.seeds]
    try:
        for training, results, seconds in run_variants(args, "sweep_loss", variants):
            write_loss_report(args, loss_report(args, training, results, seconds))
    except AevsError as exc:
        print(f"aevs bench sweep-loss: error: {exc}")
        return 2
    return 0


def loss_report(args, training: dict, results: dict, seconds: dict) -> dict:
    """The JSON: per loss and seed (``results[<loss>][<seed>][<test>]``, ``training``,
    ``evaluation_wall_s``), and per loss and test the spread of the rates across the seeds done."""
    def by_loss(per_variant: dict) -> dict:
        nested: dict = {}
        for (loss, seed), value in per_variant.items():
            nested.setdefault(loss, {})[seed] = value
        return nested

    spread = {}
    for loss, per_seed in by_loss(results).items():
        spread[loss] = {}
        for test in args.tests:
            rates = [summaries[test]["converged_rate"] or 0.0 for summaries in per_seed.values()]
            spread[loss][test] = {"seeds": list(per_seed), "rates": rates, "median": statistics.median(rates),
                                  "min": min(rates), "max": max(rates)}
    return {**sweep_settings(args), "losses": args.losses, "seeds": args.seeds,
            "training": by_loss(training), "evaluation_wall_s": by_loss(seconds),
            "results": by_loss(results), "spread": spread}


def write_loss_report(args, report: dict) -> None:
    """Write the JSON and the figure; print the spread table."""
    from pathlib import Path

    from ..core.outcome import write_json
    from . import output_path
    from .plots import plot_loss_sweep

    for loss, per_test in report["spread"].items():
        print(f"{loss} ({len(next(iter(per_test.values()))['rates'])} seeds): " + ", ".join(
            f"{test} median {spread['median']:.1%} (min {spread['min']:.1%}, max {spread['max']:.1%})"
            for test, spread in per_test.items()))
    json_path = output_path(args.out, args.json, "sweep_loss")
    write_json(report, json_path)
    figure = plot_loss_sweep(report["spread"], Path(args.out) / "sweep_loss.png")
    print(f"  JSON: {json_path}\n  figure: {figure}")
