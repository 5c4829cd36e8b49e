"""Convolutional autoencoder of AEVS (Felton et al., RA-L 2022, Sec. IV-A).

Encoder h: a ResNet-18-style network (a stem and stages of residual BasicBlocks)
with weight normalisation instead of batch normalisation (BN hurts the precision
of L_z), a strided convolution instead of the stem's max-pooling (max-pool ties
make L_z non-unique), and a grouped convolution covering the whole last feature
map instead of global average pooling (pooling's invariance hurts control),
followed by a linear projection to the latent z. Decoder d: the mirror image,
with upsampling in place of downsampling, its own weights and a sigmoid output.
A shallower network for the paper's Fig. 5b (AutoencoderConfig.active_blocks) keeps
only the skip path of the later encoder blocks and of the earlier decoder blocks.

Input normalisation: the model takes grayscale images in [0, 1] and maps them to
(image - input_mean) / input_std inside the encoder, so callers (and L_I) stay in
the architecture's image convention; the decoder outputs images in [0, 1].
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..errors import ModelError
from .config import AutoencoderConfig


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
         groups: int = 1, padding: int | None = None) -> nn.Module:
    """A weight-normalised convolution with bias ("same" padding unless told)."""
    if padding is None:
        padding = kernel_size // 2
    return weight_norm(nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                 padding=padding, groups=groups))


class InputNormalization(nn.Module):
    """Affine map from [0, 1] images to the network's input range (a fixed, documented map)."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean = mean
        self.std = std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


class BasicBlock(nn.Module):
    """ResNet BasicBlock without BN: relu(conv(relu(conv(x))) + shortcut(x)).

    `resample` is "down" (stride-2 first convolution), "up" (nearest upsampling
    before it) or None; the shortcut is a 1x1 convolution whenever shape changes.
    """

    def __init__(self, in_channels: int, out_channels: int, resample: str | None = None):
        super().__init__()
        stride = 2 if resample == "down" else 1
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest") if resample == "up" else None
        self.conv1 = conv(in_channels, out_channels, 3, stride=stride)
        self.relu = nn.ReLU()
        self.conv2 = conv(out_channels, out_channels, 3)
        if resample is not None or in_channels != out_channels:
            self.shortcut = conv(in_channels, out_channels, 1, stride=stride)
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        branch = self.conv2(self.relu(self.conv1(x)))
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(branch + identity)


def skip_path(in_channels: int, out_channels: int, resample: str | None = None) -> nn.Sequential:
    """What an inactive BasicBlock keeps (the paper's Fig. 5b): only its shortcut, linear.

    The same resampling and 1x1 projection as the block's shortcut, or the identity where the
    block has none. A Sequential, so linearize.py needs no rule of its own for it.
    """
    layers = [nn.Upsample(scale_factor=2, mode="nearest")] if resample == "up" else []
    if resample is not None or in_channels != out_channels:
        layers.append(conv(in_channels, out_channels, 1, stride=2 if resample == "down" else 1))
    return nn.Sequential(*layers)


def residual_block(config: AutoencoderConfig, index: int, decoder: bool, in_channels: int,
                   out_channels: int, resample: str | None) -> nn.Module:
    """Block ``index`` (in forward order): whole if the config keeps it active, else its skip path."""
    whole = config.block_is_active(index, decoder)
    return (BasicBlock if whole else skip_path)(in_channels, out_channels, resample)


class Encoder(nn.Sequential):
    """Image (B, 1, H, W) in [0, 1] -> latent z (B, latent_dim).

    A Sequential so that linearize.py can walk the same layers in the same order.
    """

    def __init__(self, config: AutoencoderConfig):
        channels = config.stage_channels
        first, last = channels[0], channels[-1]
        blocks = []
        in_channels = first
        for stage, out_channels in enumerate(channels):
            for index in range(config.blocks_per_stage):
                downsample = stage > 0 and index == 0
                blocks.append(residual_block(config, len(blocks), False, in_channels, out_channels,
                                             "down" if downsample else None))
                in_channels = out_channels
        super().__init__(OrderedDict(
            normalize=InputNormalization(config.input_mean, config.input_std),
            stem=nn.Sequential(conv(1, first, 7, stride=2), nn.ReLU(),
                               conv(first, first, 3, stride=2), nn.ReLU()),
            stages=nn.Sequential(*blocks),
            spatial_reduction=conv(last, last, config.final_map_size, groups=last, padding=0),
            flatten=nn.Flatten(),
            to_latent=weight_norm(nn.Linear(last, config.latent_dim)),
        ))


class Decoder(nn.Module):
    """Latent z (B, latent_dim) -> image (B, 1, H, W) in [0, 1]: the encoder mirrored."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        channels = config.stage_channels
        last = channels[-1]
        self.from_latent = weight_norm(nn.Linear(config.latent_dim, last))
        self.spatial_expansion = weight_norm(nn.ConvTranspose2d(
            last, last, config.final_map_size, groups=last))
        self.relu = nn.ReLU()
        blocks = []
        reversed_channels = channels[::-1]
        for stage, in_channels in enumerate(reversed_channels):
            is_last_stage = stage == len(channels) - 1
            for index in range(config.blocks_per_stage):
                upsample = not is_last_stage and index == config.blocks_per_stage - 1
                out_channels = reversed_channels[stage + 1] if upsample else in_channels
                blocks.append(residual_block(config, len(blocks), True, in_channels, out_channels,
                                             "up" if upsample else None))
                in_channels = out_channels
        self.stages = nn.Sequential(*blocks)
        first = channels[0]
        # Mirror of the stem by sub-pixel convolutions: a convolution at full resolution
        # with one output channel costs several times more on CPU for the same work.
        self.head = nn.Sequential(
            conv(first, 4 * first, 3), nn.PixelShuffle(2), nn.ReLU(),
            conv(first, 4, 3), nn.PixelShuffle(2), nn.Sigmoid())

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.from_latent(latent)[:, :, None, None]
        x = self.relu(self.spatial_expansion(x))
        return self.head(self.stages(x))


class Autoencoder(nn.Module):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction d(h(images)), same shape as images."""
        return self.decoder(self.encoder(images))


MODEL_FORMAT = "aevs-autoencoder"
MODEL_FORMAT_VERSION = 1
NORMALIZATION_FORMULA = "network input = (image - input_mean) / input_std, image in [0, 1]"


@dataclass
class LoadedModel:
    model: Autoencoder
    metadata: dict  #: how the model was trained: loss, scene, camera, losses, command line...

    @property
    def config(self) -> AutoencoderConfig:
        return self.model.config


def save_model(path: str | Path, model: Autoencoder, metadata: dict):
    """Write a self-describing model file: the network is rebuilt from model_args alone."""
    write_model_file(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, model, metadata)


def write_model_file(path: str | Path, model_format: str, format_version: int, model: nn.Module,
                     metadata: dict):
    """The file layout every network of aevs_ros shares: format, its version, the config the
    network is rebuilt from (``model.config``, a dataclass with input_mean and input_std), the
    input normalisation, how it was trained and the weights."""
    config = model.config
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": model_format,
        "format_version": format_version,
        "model_args": asdict(config),
        "normalization": {"input_mean": config.input_mean, "input_std": config.input_std,
                          "formula": NORMALIZATION_FORMULA},
        "metadata": metadata,
        "state_dict": {name: value.detach().cpu() for name, value in model.state_dict().items()},
    }, path)


def read_model_file(path: str | Path | None, model_format: str, format_version: int, kind: str,
                    train_command: str = "aevs train") -> dict:
    """The stored dictionary of a file written by :func:`write_model_file` in ``model_format``;
    ModelError saying why if it is missing, unreadable, of another kind (``kind`` names the
    expected one) or of another format version."""
    if path is None or not Path(path).is_file():
        raise ModelError(f"model file not found: {path} (train one with `{train_command}`)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt or foreign file
        # not torch's message: for a corrupt file it suggests weights_only=False, unsafe advice
        raise ModelError(f"cannot read model file {path}: not a model file saved by `aevs train` "
                         f"(truncated or corrupt: {type(error).__name__})") from None
    if not isinstance(saved, dict) or saved.get("format") != model_format:
        raise ModelError(f"{path} is not {kind} file (written by `{train_command}`)")
    if saved.get("format_version") != format_version:
        raise ModelError(f"{path} has model format version {saved.get('format_version')}, "
                         f"this aevs_ros reads version {format_version}: retrain it")
    return saved


def load_model(path: str | Path | None) -> LoadedModel:
    """Rebuild the autoencoder saved at path (on CPU, in eval mode); ModelError if impossible."""
    saved = read_model_file(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "an AEVS autoencoder")
    model = rebuild_network(path, saved, Autoencoder, AutoencoderConfig, "autoencoder")
    return LoadedModel(model, saved.get("metadata", {}))


def rebuild_network(path, saved: dict, network_class, config_class, what: str) -> nn.Module:
    """The network a model file's contents describe, on CPU, frozen in eval mode; ModelError
    naming ``what`` if its architecture or weights do not fit."""
    try:
        model = network_class(config_class(**saved["model_args"]))
        model.load_state_dict(saved["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise ModelError(f"{path} does not match the {what} architecture: {error}") from None
    model.eval()
    model.requires_grad_(False)
    return model
