"""The architectures of the AEVS autoencoder and of the Siame-se(3) network, as stored in their
model files (``model_args``).

Plain data, free of torch: `aevs train` builds its flags from them without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass


class StagedInput:
    """What both networks share of their input: the autoencoder's strided stem and stages, whose
    halvings the input size must allow."""

    def _check_stages(self) -> None:
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        if not self.stage_channels or min(self.stage_channels) < 1:
            raise ValueError(f"stage_channels must be positive, got {self.stage_channels}")
        if self.input_size < 1 or self.input_size % self.downsampling_factor:
            raise ValueError(f"input_size {self.input_size} must be a multiple of {self.downsampling_factor} "
                             f"for {len(self.stage_channels)} stages")

    @property
    def downsampling_factor(self) -> int:
        """The stem halves the image twice and every stage after the first halves it once."""
        return 2 ** (len(self.stage_channels) + 1)

    @property
    def final_map_size(self) -> int:
        return self.input_size // self.downsampling_factor


@dataclass
class AutoencoderConfig(StagedInput):
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
        self._check_stages()
        if self.blocks_per_stage < 1 or self.latent_dim < 1 or self.input_std <= 0:
            raise ValueError("blocks_per_stage, latent_dim and input_std must be positive")
        if not 0 <= self.active_blocks <= self.total_blocks:
            raise ValueError(f"active_blocks must lie in [0, {self.total_blocks}] (0 = all), "
                             f"got {self.active_blocks}")

    @property
    def total_blocks(self) -> int:
        """Residual blocks of the encoder (and of the decoder)."""
        return len(self.stage_channels) * self.blocks_per_stage

    def block_is_active(self, index: int, decoder: bool = False) -> bool:
        """Whether residual block ``index`` (in forward order) is whole or only its skip path."""
        active = self.active_blocks or self.total_blocks
        return index >= self.total_blocks - active if decoder else index < active


@dataclass
class SiameConfig(StagedInput):
    """Everything needed to rebuild the Siame-se(3) network (see siame.py).

    The stem and the first ``fusion_stage`` stages see each image alone (one set of weights for
    both); the other stages see the two feature maps concatenated. ``head_width`` is the width
    of the two hidden layers of the regression head.
    """

    input_size: int = 128
    stage_channels: tuple[int, ...] = (16, 32, 64, 128)  #: the autoencoder's widths
    blocks_per_stage: int = 2
    fusion_stage: int = 1
    head_width: int = 256
    input_mean: float = 0.5
    input_std: float = 0.25

    def __post_init__(self):
        self._check_stages()
        if self.blocks_per_stage < 1 or self.head_width < 1 or self.input_std <= 0:
            raise ValueError("blocks_per_stage, head_width and input_std must be positive")
        if not 1 <= self.fusion_stage <= len(self.stage_channels):
            raise ValueError(f"fusion_stage must lie in [1, {len(self.stage_channels)}] (the stages each "
                             f"image goes through alone), got {self.fusion_stage}")
