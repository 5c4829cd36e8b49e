"""Configuration dataclasses of the autoencoder, its training views and its training run.

Plain data, free of torch, so that `aevs` can build its `train` flags without paying
for importing torch on every call. AutoencoderConfig is stored in model files as
model_args; TrainConfig is what config/train.yaml and the `aevs train` flags fill in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from aevs_ros.core.errors import ConfigurationError

LOSSES = ("dct", "bce")
LR_SCHEDULES = ("constant", "plateau")
#: Physical width of the bundled scene (core.scene.DEFAULT_SCENE_WIDTH_M; not imported,
#: to keep OpenCV out of the command-line start-up).
BUNDLED_SCENE_WIDTH_M = 0.8


@dataclass
class AutoencoderConfig:
    """Everything needed to rebuild the network (see model.py)."""

    input_size: int = 128  #: side of the square grayscale input, pixels
    latent_dim: int = 32
    stage_channels: tuple[int, ...] = (16, 32, 64, 128)  #: a quarter of ResNet-18's widths
    blocks_per_stage: int = 2
    #: residual blocks kept whole: the first ones of the encoder and the last ones of the decoder;
    #: the others keep only their skip path (the paper's Fig. 5b); 0 = all
    active_blocks: int = 0
    input_mean: float = 0.5  #: network input = (image - input_mean) / input_std
    input_std: float = 0.25

    def __post_init__(self):
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        if not self.stage_channels or min(self.stage_channels) < 1:
            raise ValueError(f"stage_channels must be positive, got {self.stage_channels}")
        if self.blocks_per_stage < 1 or self.latent_dim < 1 or self.input_std <= 0:
            raise ValueError("blocks_per_stage, latent_dim and input_std must be positive")
        if not 0 <= self.active_blocks <= self.total_blocks:
            raise ValueError(f"active_blocks must lie in [0, {self.total_blocks}] (0 = all), "
                             f"got {self.active_blocks}")
        if self.input_size < 1 or self.input_size % self.downsampling_factor:
            raise ValueError(
                f"input_size {self.input_size} must be a multiple of {self.downsampling_factor} "
                f"for {len(self.stage_channels)} stages")

    @property
    def downsampling_factor(self) -> int:
        """The stem halves the image twice and every stage after the first halves it once."""
        return 2 ** (len(self.stage_channels) + 1)

    @property
    def final_map_size(self) -> int:
        return self.input_size // self.downsampling_factor

    @property
    def total_blocks(self) -> int:
        """Residual blocks of the encoder (and of the decoder)."""
        return len(self.stage_channels) * self.blocks_per_stage

    def block_is_active(self, index: int, decoder: bool = False) -> bool:
        """Whether residual block ``index`` (in forward order) is whole or only its skip path."""
        active = self.active_blocks or self.total_blocks
        return index >= self.total_blocks - active if decoder else index < active


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


def _param(default, help: str):
    """A field with its command-line help (commands/train.py builds one flag per field)."""
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata={"help": help})
    return field(default=default, metadata={"help": help})


_MODEL = AutoencoderConfig()
_VIEWS = ViewSampling()


@dataclass
class TrainConfig:
    # data
    scene: str | None = _param(None, "scene image file (default: the bundled scene)")
    scene_width_m: float = _param(BUNDLED_SCENE_WIDTH_M, "physical width of the scene image, m")
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
    # model
    input_size: int = _param(_MODEL.input_size, "side of the square grayscale input, pixels")
    latent_dim: int = _param(_MODEL.latent_dim, "size of the latent z (the servoing features)")
    stage_channels: tuple[int, ...] = _param(_MODEL.stage_channels, "channels of the ResNet stages")
    blocks_per_stage: int = _param(_MODEL.blocks_per_stage, "residual blocks per stage")
    active_blocks: int = _param(_MODEL.active_blocks, "residual blocks kept whole (the first of the "
                                "encoder, the last of the decoder; the others keep only their skip "
                                "path); 0 = all")
    # optimisation
    loss: str = _param("dct", f"reconstruction loss: {' or '.join(LOSSES)}")
    learning_rate: float = _param(1e-3, "Adam learning rate")
    lr_schedule: str = _param("constant", f"{' or '.join(LR_SCHEDULES)} (halve on a val plateau)")
    batch_size: int = _param(50, "images per optimisation step (per process under torchrun)")
    epochs: int = _param(6, "passes over the training views")
    bf16: bool = _param(False, "bfloat16 autocast of the forward pass (fast only with native "
                               "bf16, e.g. AVX512-BF16; about 5x slower on AVX2-only CPUs)")
    device: str = _param("auto", "auto (cuda if available, else cpu), cpu or cuda")
    threads: int = _param(0, "torch CPU threads (0: torch's default)")
    seed: int = _param(0, "seed of the views, the initial weights and the shuffling")
    # output
    out: str = _param("models/aevs_default.pt", "model file written at the end")
    work_dir: str = _param(".build/train", "directory of the checkpoint and the CSV log")
    progress: bool = _param(True, "show progress bars")

    def __post_init__(self):
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
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

    def model_config(self) -> AutoencoderConfig:
        return AutoencoderConfig(input_size=self.input_size, latent_dim=self.latent_dim,
                                 stage_channels=self.stage_channels,
                                 blocks_per_stage=self.blocks_per_stage,
                                 active_blocks=self.active_blocks)

    def view_sampling(self) -> ViewSampling:
        return ViewSampling(**{f.name: getattr(self, f.name) for f in fields(ViewSampling)})
