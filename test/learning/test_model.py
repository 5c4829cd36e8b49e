import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from aevs_ros.core.errors import ModelError
from aevs_ros.core.network.config import AutoencoderConfig
from aevs_ros.core.network.model import Autoencoder, load_model, save_model


def test_default_model_shapes():
    model = Autoencoder(AutoencoderConfig())
    images = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        latent = model.encoder(images)
        reconstruction = model.decoder(latent)
    assert latent.shape == (2, 32)
    assert reconstruction.shape == images.shape
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1


def test_no_batch_norm_or_pooling_and_weight_norm_everywhere():
    model = Autoencoder(AutoencoderConfig())
    forbidden = (nn.modules.batchnorm._BatchNorm, nn.modules.pooling._MaxPoolNd,
                 nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd)
    assert not [m for m in model.modules() if isinstance(m, forbidden)]
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)


def test_encoder_ends_with_a_grouped_convolution_over_the_whole_map():
    config = AutoencoderConfig(input_size=64)
    reduction = Autoencoder(config).encoder.spatial_reduction
    assert reduction.groups == config.stage_channels[-1]
    assert reduction.kernel_size == (config.final_map_size,) * 2 == (2, 2)


def test_config_rejects_an_input_size_the_stages_cannot_divide():
    with pytest.raises(ValueError, match="multiple of 32"):
        AutoencoderConfig(input_size=100)


def test_saved_model_rebuilds_from_the_file_alone(tmp_path, tiny_model, tiny_config):
    path = tmp_path / "model.pt"
    save_model(path, tiny_model, {"loss": "dct", "val_loss": 0.25})
    loaded = load_model(path)
    assert loaded.config == tiny_config
    assert loaded.metadata == {"loss": "dct", "val_loss": 0.25}
    images = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(images), tiny_model(images))


def test_missing_model_file_is_a_clear_model_error(tmp_path):
    with pytest.raises(ModelError, match="model file not found: .*missing.pt"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(ModelError, match="not found"):
        load_model(None)


def test_foreign_files_are_model_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelError, match="not an AEVS autoencoder file"):
        load_model(foreign)


def test_weights_of_another_architecture_are_a_model_error(tmp_path, tiny_model):
    path = tmp_path / "mismatch.pt"
    save_model(path, tiny_model, {})
    saved = torch.load(path, weights_only=True)
    saved["model_args"]["latent_dim"] = 16  # the stored weights are for 8
    torch.save(saved, path)
    with pytest.raises(ModelError, match="does not match the autoencoder architecture"):
        load_model(path)
