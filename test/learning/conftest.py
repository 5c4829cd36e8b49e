"""Tiny autoencoders and model files for the learning tests (seconds, not minutes, on 2 cores)."""
import pytest
import torch

from aevs_ros.core.network.config import AutoencoderConfig
from aevs_ros.core.network.model import Autoencoder, save_model

TINY = dict(input_size=32, latent_dim=8, stage_channels=(4, 8, 8, 8), blocks_per_stage=1)


@pytest.fixture
def tiny_config():
    return AutoencoderConfig(**TINY)


@pytest.fixture
def tiny_model(tiny_config):
    torch.manual_seed(0)
    return Autoencoder(tiny_config).eval()


@pytest.fixture
def tiny_model_file(tmp_path, tiny_model):
    path = tmp_path / "tiny.pt"
    save_model(path, tiny_model, {"loss": "dct", "val_loss": 0.5})
    return path
