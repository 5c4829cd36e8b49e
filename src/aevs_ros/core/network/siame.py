"""The Siame-se(3) network (Felton et al., ICRA 2021): the pose of a view relative to a goal view.

Both images go through the same layers (shared weights: a Siamese network) built from the
autoencoder's blocks (model.py): the input normalisation, the strided stem and the first
``fusion_stage`` ResNet stages. Their feature maps are concatenated and the remaining stages
run on the pair, so the convolutions compare the two views where they overlap; a grouped
convolution over the whole last map (it keeps where things are, unlike pooling) and an MLP
then regress six numbers: the pose of the current camera in the goal camera's frame,
translation c*t_c [m] then rotation vector θu of c*R_c [rad]. The servo runs a
position-based law on it (core/features/siame.py).

The goal image is fixed while servoing, so its feature map is computed once (``embed``) and
each step costs the Siamese layers on the current image and the fused ones (``regress``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .config import SiameConfig
from .model import BasicBlock, InputNormalization, conv, read_model_file, rebuild_network, write_model_file

POSE_DIM = 6  #: (t, θu)


def _stages(config: SiameConfig, stages: range, in_channels: int) -> list[nn.Module]:
    """The residual blocks of ``stages``, as in the autoencoder's encoder (each stage after the
    first halves the map)."""
    blocks = []
    for stage in stages:
        out_channels = config.stage_channels[stage]
        for index in range(config.blocks_per_stage):
            blocks.append(BasicBlock(in_channels, out_channels, "down" if stage > 0 and index == 0 else None))
            in_channels = out_channels
    return blocks


class SiamesePoseNetwork(nn.Module):
    def __init__(self, config: SiameConfig):
        super().__init__()
        self.config = config
        channels, fusion = config.stage_channels, config.fusion_stage
        first = channels[0]
        self.branch = nn.Sequential(
            InputNormalization(config.input_mean, config.input_std),
            conv(1, first, 7, stride=2), nn.ReLU(), conv(first, first, 3, stride=2), nn.ReLU(),
            *_stages(config, range(fusion), first))
        fused_channels = channels[-1] if fusion < len(channels) else 2 * channels[-1]
        self.fused = nn.Sequential(
            *_stages(config, range(fusion, len(channels)), 2 * channels[fusion - 1]),
            conv(fused_channels, fused_channels, config.final_map_size, groups=fused_channels, padding=0),
            nn.Flatten())
        width = config.head_width
        self.head = nn.Sequential(
            nn.Linear(fused_channels, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, POSE_DIM))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, H, W) in [0, 1] -> their feature maps at the fusion stage."""
        return self.branch(images)

    def regress(self, current: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Feature maps (``embed``) of the current and goal images -> (t, θu) (B, 6)."""
        return self.head(self.fused(torch.cat([current, goal], dim=1)))

    def forward(self, current: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Current and goal images (B, 1, H, W) -> pose of the current camera in the goal's (B, 6)."""
        return self.regress(self.embed(current), self.embed(goal))


MODEL_FORMAT = "aevs-siame-se3"
MODEL_FORMAT_VERSION = 1
TRAIN_COMMAND = "aevs train --config config/train_siame.yaml"


@dataclass
class LoadedSiameModel:
    model: SiamesePoseNetwork
    metadata: dict  #: how it was trained: losses, scene, camera, pair sampling, command line...

    @property
    def config(self) -> SiameConfig:
        return self.model.config


def save_siame_model(path: str | Path, model: SiamesePoseNetwork, metadata: dict) -> None:
    """Write a self-describing model file (the autoencoder's layout, its own format name)."""
    write_model_file(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, model, metadata)


def load_siame_model(path: str | Path | None) -> LoadedSiameModel:
    """Rebuild the network saved at ``path`` (on CPU, in eval mode); ModelError if impossible."""
    saved = read_model_file(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "a Siame-se(3) model", TRAIN_COMMAND)
    model = rebuild_network(path, saved, SiamesePoseNetwork, SiameConfig, "Siame-se(3)")
    return LoadedSiameModel(model, saved.get("metadata", {}))
