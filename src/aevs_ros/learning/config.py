"""Configuration dataclasses of the training views and the training run.

Plain data, free of torch, so that `aevs` can build its `train` flags without paying
for importing torch on every call. TrainConfig is what config/train.yaml and the
`aevs train` flags fill in; its model fields make a core.network.config.AutoencoderConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.network.config import AutoencoderConfig

LOSSES = ("dct", "bce")
LR_SCHEDULES = ("constant", "plateau")
#: Physical width of the bundled scene (core.scene.DEFAULT_SCENE_WIDTH_M; not imported,
#: to keep OpenCV out of the command-line start-up).
BUNDLED_SCENE_WIDTH_M = 0.8


@dataclass(frozen=True)
class ViewSampling:
    """Where training cameras are drawn (metres, degrees); see dataset.py."""

    focus_half_extent_m: float = 0.1  #: focus point uniform in [-e, e]^2 around the centre
    camera_half_extent_m: float = 0.6  #: camera x, y uniform in [-e, e]
    camera_height_min_m: float = 0.3
    camera_height_max_m: float = 0.9
    max_roll_deg: float = 180.0  #: roll about the optical axis uniform in [-r, r]
    min_visible_fraction: float = 0.3  #: views that see less of the scene are redrawn

    def __post_init__(self):
        if not 0 < self.camera_height_min_m <= self.camera_height_max_m:
            raise ValueError("camera heights must satisfy 0 < min <= max")
        if min(self.focus_half_extent_m, self.camera_half_extent_m, self.max_roll_deg) < 0:
            raise ValueError("half extents and max roll must not be negative")
        if not 0 <= self.min_visible_fraction <= 1:
            raise ValueError("min_visible_fraction must lie in [0, 1]")


def _param(default, help: str, repeatable: bool = False):
    """A field with its command-line help (commands/train.py builds one flag per field; a
    repeatable one collects every use of its flag)."""
    metadata = {"help": help, "repeatable": repeatable}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


_MODEL = AutoencoderConfig()
_VIEWS = ViewSampling()


@dataclass
class TrainConfig:
    # data
    scene: str | list | None = _param(
        None, "scene: an image file, a folder of them, skimage:NAME or skimage:training "
        "(core/scene_catalog.py); repeat for several; in YAML a list whose items may be "
        "{path: ..., width_m: ...} (default: the bundled scene)", repeatable=True)
    scene_width_m: float = _param(BUNDLED_SCENE_WIDTH_M, "physical width of each scene image "
                                  "that names no width of its own, m")
    train_images: int = _param(5000, "number of rendered training views")
    val_images: int = _param(500, "number of rendered validation views")
    focus_half_extent_m: float = _param(_VIEWS.focus_half_extent_m,
                                        "focus points uniform in +-this around the centre, m")
    camera_half_extent_m: float = _param(_VIEWS.camera_half_extent_m,
                                         "camera x, y uniform in +-this, m")
    camera_height_min_m: float = _param(_VIEWS.camera_height_min_m, "lowest camera, m")
    camera_height_max_m: float = _param(_VIEWS.camera_height_max_m, "highest camera, m")
    max_roll_deg: float = _param(_VIEWS.max_roll_deg, "roll uniform in +-this, degrees")
    min_visible_fraction: float = _param(_VIEWS.min_visible_fraction,
                                         "redraw views that see less of the scene than this")
    augment: bool = _param(False, "photometric augmentation of the training views: random gain and "
                           "offset of the light, lighting gradient, Gaussian noise and blur, a grey "
                           "occluder (learning/augment.py); the loss still compares with the clean view")
    # model
    input_size: int = _param(_MODEL.input_size, "side of the square grayscale input, pixels")
    latent_dim: int = _param(_MODEL.latent_dim, "size of the latent z (the servoing features)")
    stage_channels: tuple[int, ...] = _param(_MODEL.stage_channels, "channels of the ResNet stages")
    blocks_per_stage: int = _param(_MODEL.blocks_per_stage, "residual blocks per stage")
    active_blocks: int = _param(_MODEL.active_blocks, "residual blocks kept whole (the first of the "
                                "encoder, the last of the decoder; the others keep only their skip "
                                "path); 0 = all")
    # optimisation
    init: str | None = _param(None, "start from this model file's weights (fine-tuning); its "
                              "network settings must match")
    loss: str = _param("dct", f"reconstruction loss: {' or '.join(LOSSES)}")
    learning_rate: float = _param(1e-3, "Adam learning rate")
    lr_schedule: str = _param("constant", f"{' or '.join(LR_SCHEDULES)} (halve on a val plateau)")
    batch_size: int = _param(50, "images per optimisation step (per process under torchrun)")
    epochs: int = _param(6, "passes over the training views")
    bf16: bool = _param(False, "bfloat16 autocast of the forward pass (fast only with native "
                               "bf16, e.g. AVX512-BF16; much slower on AVX2-only CPUs: README \"Training\")")
    device: str = _param("auto", "auto (cuda if available, else cpu), cpu or cuda")
    threads: int = _param(0, "torch CPU threads (0: torch's default)")
    seed: int = _param(0, "seed of the views, the initial weights and the shuffling")
    # output
    out: str = _param("models/aevs_default.pt", "model file written at the end")
    work_dir: str = _param(".build/train", "directory of the checkpoint and the CSV log")
    progress: bool = _param(True, "show progress bars")

    def __post_init__(self):
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        if isinstance(self.scene, (list, tuple)):
            self.scene = list(self.scene) if len(self.scene) != 1 else self.scene[0]
        for entry in self.scene_entries():
            if not isinstance(entry, (str, dict)) or (isinstance(entry, dict) and (
                    set(entry) - {"path", "width_m"} or not isinstance(entry.get("path"), str))):
                raise ConfigurationError(f"a scene is a path or {{path: ..., width_m: ...}}, got {entry!r}")
        if self.loss not in LOSSES:
            raise ConfigurationError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigurationError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigurationError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if min(self.train_images, self.val_images, self.batch_size, self.epochs) < 1:
            raise ConfigurationError("train_images, val_images, batch_size and epochs must be >= 1")
        if not self.learning_rate > 0 or not self.scene_width_m > 0:
            raise ConfigurationError("learning_rate and scene_width_m must be positive")
        try:
            self.model_config()
            self.view_sampling()
        except ValueError as error:
            raise ConfigurationError(str(error)) from None

    def scene_entries(self) -> list:
        """The scene setting as a list (empty: the bundled scene)."""
        if self.scene is None:
            return []
        return list(self.scene) if isinstance(self.scene, list) else [self.scene]

    def model_config(self) -> AutoencoderConfig:
        return AutoencoderConfig(input_size=self.input_size, latent_dim=self.latent_dim,
                                 stage_channels=self.stage_channels,
                                 blocks_per_stage=self.blocks_per_stage,
                                 active_blocks=self.active_blocks)

    def view_sampling(self) -> ViewSampling:
        return ViewSampling(**{f.name: getattr(self, f.name) for f in fields(ViewSampling)})


def load_train_config(path, overrides: dict | None = None) -> TrainConfig:
    """TrainConfig from the defaults, then the YAML file at ``path`` (None: none), then the
    ``overrides`` that are not None (`aevs train`'s flags); ConfigurationError saying why not."""
    settings = {}
    if path is not None:
        import yaml

        try:
            settings = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigurationError(f"cannot read training config {path}: {error}") from None
        if not isinstance(settings, dict):
            raise ConfigurationError(f"{path} must hold a mapping of settings")
    names = {config_field.name for config_field in fields(TrainConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise ConfigurationError(f"unknown settings in {path}: {', '.join(unknown)}")
    settings.update((name, value) for name, value in (overrides or {}).items() if value is not None)
    try:
        return TrainConfig(**settings)
    except TypeError as error:
        raise ConfigurationError(f"invalid training settings: {error}") from None
