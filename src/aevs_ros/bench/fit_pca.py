"""`aevs bench fit-pca`: learn the PCA-VS basis from the autoencoder's training views.

The views are the ones `aevs train` renders for the same training settings (scene, image
size, view sampling, count and seed), read from the same YAML preset, so PCA-VS and AEVS
compress the same data, as in the paper's comparison. By default that is the preset of the
shipped model, config/train.yaml.
"""
from __future__ import annotations

from pathlib import Path

from . import benchmark_parser

#: Flags that override a training setting: flag destination -> TrainConfig field.
OVERRIDES = {"images": "train_images", "size": "input_size", "seed": "seed", "scene": "scene",
             "scene_width": "scene_width_m"}


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "fit-pca", "learn the PCA-VS basis from the autoencoder's training views", __doc__,
        "\n\nexamples:\n"
        "  aevs bench fit-pca --out models/pca_default.npz        # the shipped basis (under a minute)\n"
        "  aevs bench fit-pca --size 64 --out /tmp/pca64.npz      # for 64x64 images")
    parser.add_argument("--out", default="models/pca_default.npz", help="basis file to write (.npz)")
    parser.add_argument("--dim", type=int, default=32, help="number of components D (default 32)")
    parser.add_argument("--config", type=Path, default=None, metavar="YAML",
                        help="training preset the views come from (default: the shipped config/train.yaml)")
    overrides = parser.add_argument_group("overrides of the preset's settings")
    overrides.add_argument("--images", type=int, default=None, help="number of views (train_images)")
    overrides.add_argument("--size", type=int, default=None, help="image size in pixels (input_size)")
    overrides.add_argument("--seed", type=int, default=None, help="seed of the views (seed)")
    overrides.add_argument("--scene", action="append", default=None,
                           help="scene (scene; repeatable, as for aevs train)")
    overrides.add_argument("--scene-width", type=float, default=None, help="scene width [m] (scene_width_m)")
    parser.set_defaults(func=run)


def training_config(args):
    """The TrainConfig of the preset (`aevs train`'s own reading of it) with the overrides."""
    from .. import share_dir
    from ..learning.config import load_train_config

    shipped = share_dir() / "config" / "train.yaml"
    preset = args.config or (shipped if shipped.is_file() else None)
    return load_train_config(preset, {name: getattr(args, flag) for flag, name in OVERRIDES.items()}), preset


def training_views(config, scenes, camera, progress: bool = True):
    """The training views `aevs train` renders for ``config`` (uint8 (N, h, w))."""
    import numpy as np

    from ..learning.dataset import scene_views

    train_seed = np.random.SeedSequence(config.seed).generate_state(4)[0]  # as learning.train._train
    return scene_views(scenes, camera, config.train_images, train_seed, config.view_sampling(), progress,
                       "rendering training views")[0]


def run(args) -> int:
    import time

    from ..core.camera import default_camera
    from ..core.errors import AevsError
    from ..core.features.pca import PCAFeature
    from ..learning.dataset import load_scenes

    try:
        config, preset = training_config(args)
        camera = default_camera(config.input_size)
        scenes = load_scenes(config)
        views = training_views(config, scenes, camera)
        started = time.perf_counter()
        fingerprint = scenes[0].fingerprint if len(scenes) == 1 else ""  # "": fitted for any scene
        pca = PCAFeature.fit(views, camera, args.dim, scene_fingerprint=fingerprint)
        pca.save(args.out)
    except AevsError as exc:
        print(f"aevs bench fit-pca: error: {exc}")
        return 2
    print(f"PCA basis of {args.dim} components from {config.train_images} training views "
          f"(preset {preset or 'TrainConfig defaults'}, seed {config.seed}) of "
          f"{', '.join(scene.name for scene in scenes)}, "
          f"{camera.width}x{camera.height}, fitted in {time.perf_counter() - started:.1f} s")
    print(f"  explained variance: {pca.explained_variance.sum():.1%} "
          f"(first components: {', '.join(f'{v:.1%}' for v in pca.explained_variance[:4])})")
    print(f"  written to {args.out}")
    return 0
