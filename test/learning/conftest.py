"""Tiny autoencoders, Siame-se(3) networks and model files for the learning tests (seconds, not
minutes, on 2 cores)."""
import pytest
import torch

from aevs_ros.core.network.config import AutoencoderConfig, SiameConfig
from aevs_ros.core.network.model import Autoencoder, save_model
from aevs_ros.core.network.siame import SiamesePoseNetwork, save_siame_model

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


#: a Siame-se(3) network small enough to build, run and train in a test (32x32 images)
TINY_SIAME = dict(input_size=32, stage_channels=(4, 8, 8, 8), blocks_per_stage=1, fusion_stage=1, head_width=16)


@pytest.fixture
def tiny_siame_settings():
    """TINY_SIAME as TrainConfig settings, for tiny training runs."""
    return dict(TINY_SIAME)


@pytest.fixture
def tiny_siame():
    torch.manual_seed(0)
    return SiamesePoseNetwork(SiameConfig(**TINY_SIAME)).eval()


@pytest.fixture
def tiny_siame_file(tmp_path, tiny_siame):
    path = tmp_path / "siame.pt"
    save_siame_model(path, tiny_siame, {"family": "siame", "val_loss": 0.5,
                                        "scene": {"fingerprint": "0123456789ab"}, "scenes": [{}]})
    return path
