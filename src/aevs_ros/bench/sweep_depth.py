"""`aevs bench sweep-depth`: AEVS convergence rate against the network depth (the paper's Fig. 5b).

Depth i keeps the first i residual blocks of the encoder whole and only the skip path (the
1x1 projection of a resampling block, the identity otherwise) of the others, and the last i
blocks of the decoder (TrainConfig.active_blocks); the stem, the end projection and the latent
size stay. One autoencoder is trained per depth with aevs_ros.learning.train (TrainConfig
defaults for what the flags below do not set), then run on the Table I test sets (same cases,
criterion and control settings as `aevs bench table1`).

SLOW: every depth is a training run plus a closed-loop evaluation. The defaults (64x64 images,
2000 views, 5 epochs, 20 cases per test) are a reduced budget that shows the trend only; the
shipped model saw 10000 128x128 views x 24 epochs. Models already trained with the same
settings are reused, and the JSON and figure are rewritten after every depth, so a sweep stopped
early keeps the depths it finished.
"""
from __future__ import annotations

from . import benchmark_parser
from .model_sweep import add_sweep_arguments, int_list, run_sweep, write_sweep_progress


def _depths(text: str) -> list[int]:
    return int_list(text, "depths", 1, " (active residual blocks)")


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "sweep-depth", "AEVS convergence rate vs active residual blocks (trains one model per depth: slow)",
        __doc__, "\n\nexample:\n  aevs bench sweep-depth --depths 1,4,8 --cases 20")
    parser.add_argument("--depths", type=_depths, default=[1, 2, 4, 6, 8],
                        help="active residual blocks, 1 to the model's 8, trained in this order; the "
                             "JSON and figure are rewritten after each (default 1,2,4,6,8)")
    add_sweep_arguments(parser, "sweep_depth", cases=20)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..core.errors import AevsError
    from .plots import plot_depth_sweep

    try:
        sweep = run_sweep(args, "sweep_depth", "active_blocks", args.depths, lambda depth: f"blocks{depth}")
        write_sweep_progress(args, "sweep_depth", "depths", sweep, plot_depth_sweep)
    except AevsError as exc:
        print(f"aevs bench sweep-depth: error: {exc}")
        return 2
    return 0
