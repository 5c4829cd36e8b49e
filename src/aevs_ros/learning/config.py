"""Configuration dataclasses of the training views, the training pairs and the training run.

Plain data, free of torch, so that `aevs` can build its `train` flags without paying
for importing torch on every call. TrainConfig is what config/train.yaml (the autoencoder)
and config/train_siame.yaml (Siame-se(3)) and the `aevs train` flags fill in; its model
fields make a core.network.config.AutoencoderConfig or SiameConfig.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.network.config import AutoencoderConfig, SiameConfig

#: what `aevs train` can train: the AEVS autoencoder or the Siame-se(3) pose regressor
FAMILIES = ("aevs", "siame")
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


@dataclass(frozen=True)
class PairSampling:
    """Where the goal and current cameras of the Siame-se(3) training pairs are drawn (metres,
    degrees); see dataset.py. The defaults are the paper's Table I test sets (bench/cases.py,
    which a test holds them to), so the network learns the poses the servo meets there.

    A goal looks straight down from goal_height_m at x, y uniform in [-e, e] with any roll.
    A start is drawn around it as a look-at start or a screw motion, and the current camera
    lies at a uniform fraction of the way from the goal to that start: on the path of a PBVS
    servo, which shrinks the relative pose s by the same factor on every axis, give or take
    path_jitter. (A log-uniform fraction, as the servo's time is spread over its distances to
    the goal, left the network answering "at the goal" for every pair in short trainings: the
    large motions, which it learns first, were too rare.)
    """

    goal_height_m: float = 0.6
    goal_half_extent_m: float = 0.2
    look_at_share: float = 0.5  #: share of look-at starts; the others are screw motions
    #: look-at start: goal position + uniform offset in [-e, e] per axis, looking at the goal's
    #: target plus a point of a disc of this radius, rolled from the goal by uniform [-r, r]
    look_at_half_extent_m: tuple[float, float, float] = (0.6, 0.6, 0.15)
    look_at_target_radius_m: float = 0.10
    look_at_max_roll_deg: float = 5.0
    #: screw start: the goal moved along its optical axis by uniform [-d, d] and turned about it
    #: by uniform [-r, r]
    screw_max_translation_m: float = 0.3
    screw_max_rotation_deg: float = 70.0
    #: the current camera is off the path by a Gaussian of standard deviation this share of the
    #: start's distance on each axis (translation and rotation apart): where an imperfect
    #: estimate leads the servo
    path_jitter: float = 0.1
    min_visible_fraction: float = 0.5  #: pairs whose goal or current view sees less are redrawn

    def __post_init__(self):
        if not self.goal_height_m > 0:
            raise ValueError("goal_height_m must be positive")
        if not 0 <= self.look_at_share <= 1 or not 0 <= self.min_visible_fraction <= 1:
            raise ValueError("look_at_share and min_visible_fraction must lie in [0, 1]")
        if min(self.goal_half_extent_m, *self.look_at_half_extent_m, self.look_at_target_radius_m,
               self.look_at_max_roll_deg, self.screw_max_translation_m, self.screw_max_rotation_deg,
               self.path_jitter) < 0:
            raise ValueError("extents, angles and path_jitter must not be negative")


def _param(default, help: str, repeatable: bool = False, family: str | None = None):
    """A field with its command-line help (commands/train.py builds one flag per field; a
    repeatable one collects every use of its flag). A field of one ``family`` only must keep
    its default when training the other (TrainConfig refuses it otherwise)."""
    metadata = {"help": f"{family} only: {help}" if family else help, "repeatable": repeatable,
                "family": family}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=metadata)
    return field(default=default, metadata=metadata)


def _default(config_field):
    return config_field.default_factory() if config_field.default_factory is not MISSING else config_field.default


_MODEL = AutoencoderConfig()
_VIEWS = ViewSampling()
_SIAME = SiameConfig()


@dataclass
class TrainConfig:
    family: str = _param("aevs", f"what to train: {' or '.join(FAMILIES)} (the AEVS autoencoder or "
                         "the Siame-se(3) pose regressor)")
    # data
    scene: str | list | None = _param(
        None, "scene: an image file, a folder of them, skimage:NAME or skimage:training "
        "(core/scene_catalog.py); repeat for several; in YAML a list whose items may be "
        "{path: ..., width_m: ...} (default: the bundled scene)", repeatable=True)
    scene_width_m: float = _param(BUNDLED_SCENE_WIDTH_M, "physical width of each scene image "
                                  "that names no width of its own, m")
    train_images: int = _param(5000, "number of rendered training views (siame: training pairs, "
                               "each of a goal and a current view)")
    val_images: int = _param(500, "number of rendered validation views (siame: validation pairs)")
    focus_half_extent_m: float = _param(_VIEWS.focus_half_extent_m,
                                        "focus points uniform in +-this around the centre, m", family="aevs")
    camera_half_extent_m: float = _param(_VIEWS.camera_half_extent_m,
                                         "camera x, y uniform in +-this, m", family="aevs")
    camera_height_min_m: float = _param(_VIEWS.camera_height_min_m, "lowest camera, m", family="aevs")
    camera_height_max_m: float = _param(_VIEWS.camera_height_max_m, "highest camera, m", family="aevs")
    max_roll_deg: float = _param(_VIEWS.max_roll_deg, "roll uniform in +-this, degrees", family="aevs")
    min_visible_fraction: float = _param(_VIEWS.min_visible_fraction,
                                         "redraw views (siame: pairs) that see less of the scene than this")
    augment: bool = _param(False, "photometric augmentation of the training views: random gain and "
                           "offset of the light, lighting gradient, Gaussian noise and blur, a grey "
                           "occluder (learning/augment.py); the loss still compares with the clean view "
                           "(siame: of the current views; the goal views stay clean, as the servo's goal)")
    # model
    input_size: int = _param(_MODEL.input_size, "side of the square grayscale input, pixels")
    latent_dim: int = _param(_MODEL.latent_dim, "size of the latent z (the servoing features)", family="aevs")
    stage_channels: tuple[int, ...] = _param(_MODEL.stage_channels, "channels of the ResNet stages")
    blocks_per_stage: int = _param(_MODEL.blocks_per_stage, "residual blocks per stage")
    active_blocks: int = _param(_MODEL.active_blocks, "residual blocks kept whole (the first of the "
                                "encoder, the last of the decoder; the others keep only their skip "
                                "path); 0 = all", family="aevs")
    fusion_stage: int = _param(_SIAME.fusion_stage, "stages each image goes through alone (shared "
                               "weights); the later ones see both feature maps concatenated", family="siame")
    head_width: int = _param(_SIAME.head_width, "width of the hidden layers of the pose regression head",
                             family="siame")
    # optimisation
    init: str | None = _param(None, "start from this model file's weights (fine-tuning); its "
                              "network settings must match")
    loss: str = _param("dct", f"reconstruction loss: {' or '.join(LOSSES)}", family="aevs")
    rotation_weight: float = _param(0.6, "loss = |t error| [m] + this x |θu error| [rad]; the scene "
                                    "depth makes a rotation and a translation move the image alike",
                                    family="siame")
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
    out: str | None = _param(None, "model file written at the end (default: models/<family>_default.pt, "
                             "the shipped one)")
    work_dir: str = _param(".build/train", "directory of the checkpoint and the CSV log")
    progress: bool = _param(True, "show progress bars")

    def __post_init__(self):
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        if self.family not in FAMILIES:
            raise ConfigurationError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.out is None:
            self.out = f"models/{self.family}_default.pt"
        for config_field in fields(self):
            owner = config_field.metadata["family"]
            if owner not in (None, self.family) and getattr(self, config_field.name) != _default(config_field):
                raise ConfigurationError(f"{config_field.name} is a setting of {owner} training, not of "
                                         f"{self.family}: leave it out")
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
        if not self.learning_rate > 0 or not self.scene_width_m > 0 or not self.rotation_weight > 0:
            raise ConfigurationError("learning_rate, scene_width_m and rotation_weight must be positive")
        try:
            self.model_config()
            self.view_sampling()
            self.pair_sampling()
        except ValueError as error:
            raise ConfigurationError(str(error)) from None

    def scene_entries(self) -> list:
        """The scene setting as a list (empty: the bundled scene)."""
        if self.scene is None:
            return []
        return list(self.scene) if isinstance(self.scene, list) else [self.scene]

    def model_config(self) -> AutoencoderConfig | SiameConfig:
        """The architecture of the network the family trains."""
        if self.family == "siame":
            return SiameConfig(input_size=self.input_size, stage_channels=self.stage_channels,
                               blocks_per_stage=self.blocks_per_stage, fusion_stage=self.fusion_stage,
                               head_width=self.head_width)
        return AutoencoderConfig(input_size=self.input_size, latent_dim=self.latent_dim,
                                 stage_channels=self.stage_channels,
                                 blocks_per_stage=self.blocks_per_stage,
                                 active_blocks=self.active_blocks)

    def view_sampling(self) -> ViewSampling:
        return ViewSampling(**{f.name: getattr(self, f.name) for f in fields(ViewSampling)})

    def pair_sampling(self) -> PairSampling:
        """Table I's set-up (PairSampling's defaults) with this run's visibility threshold."""
        return PairSampling(min_visible_fraction=self.min_visible_fraction)


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
