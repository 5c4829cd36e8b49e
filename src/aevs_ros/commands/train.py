"""`aevs train`: train the AEVS autoencoder, or the Siame-se(3) network, on rendered views of a
planar scene."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from ..learning.config import TrainConfig

DESCRIPTION = """\
Render views of a planar scene, train the convolutional autoencoder on them and write a
self-describing model file; with --family siame, render pairs of a goal view and a view
around it and train the Siame-se(3) network to regress their relative pose. Settings come
from TrainConfig's defaults, then the --config YAML file, then the flags below (each YAML
key is also a flag, with - for _; "aevs only" / "siame only" settings must keep their
defaults when training the other family).
Every epoch is validated, logged (CSV) and checkpointed in --work-dir; --resume goes on
from the last checkpoint. Launched with torchrun, it trains with DistributedDataParallel.

examples:
  aevs train --config config/train.yaml                  # the shipped model (about 1 h on 2 cores)
  aevs train --config config/train.yaml --resume         # continue an interrupted run
  aevs train --config config/train_general.yaml          # the general model (skimage:training)
  aevs train --config config/train.yaml --init models/aevs_general.pt --scene my_scene.png \
             --train-images 2000 --epochs 3 --out my_scene.pt  # fine-tune for a new scene
  aevs train --train-images 500 --val-images 100 --epochs 2 --input-size 64 --out /tmp/ae.pt
  torchrun --nproc-per-node 2 --no-python aevs train --config config/train.yaml
  aevs train --config config/train_siame.yaml            # the shipped Siame-se(3) model (about 20 min)
  aevs train --family siame --train-images 500 --val-images 100 --epochs 1 --input-size 64 --out /tmp/siame.pt
"""


def _default(config_field):
    if config_field.default is not MISSING:
        return config_field.default
    return config_field.default_factory()


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train the autoencoder (AEVS features) or Siame-se(3) on rendered views of a scene",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help="YAML file of settings (keys as the flags below)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint in --work-dir")
    settings = parser.add_argument_group("settings (default: the YAML file, else shown)")
    for config_field in fields(TrainConfig):
        default = _default(config_field)
        flag = "--" + config_field.name.replace("_", "-")
        text = config_field.metadata["help"] + ("" if default is None else f" (default {default})")
        if config_field.metadata["repeatable"]:
            settings.add_argument(flag, action="append", default=None, metavar="STR", help=text)
        elif isinstance(default, bool):
            settings.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(default, tuple):
            settings.add_argument(flag, type=int, nargs="+", default=None, metavar="N", help=text)
        else:
            value_type = str if default is None else type(default)
            settings.add_argument(flag, type=value_type, default=None, metavar=value_type.__name__.upper(),
                                  help=text)
    parser.set_defaults(func=run)


def build_config(args) -> TrainConfig:
    """TrainConfig from the defaults, then the YAML file, then the flags given."""
    from ..learning.config import load_train_config

    return load_train_config(args.config, {field.name: getattr(args, field.name) for field in fields(TrainConfig)})


def run(args) -> int:
    from ..core.errors import AevsError
    from ..learning.train import train

    try:
        config = build_config(args)
        result = train(config, resume=args.resume, command_line=shlex.join(sys.argv))
    except AevsError as error:
        print(f"aevs train: {error}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 wrote the files and reports them
    print(f"aevs train: wrote {result.model_path} after {result.epochs} epochs "
          f"(train loss {result.train_loss:.5g}, validation loss {result.val_loss:.5g}, "
          f"{result.training_seconds / 60:.1f} min)")
    return 0
