"""active_blocks (the paper's Fig. 5b): shallower autoencoders keep only the skip paths of the
other blocks, train, serve L_z and round-trip through the model file; all blocks is today's model."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.network.config import AutoencoderConfig
from aevs_ros.learning.config import TrainConfig
from aevs_ros.core.network.linearize import EncoderLinearization
from aevs_ros.learning.losses import make_loss
from aevs_ros.core.network.model import Autoencoder, BasicBlock, load_model, save_model
from aevs_ros.learning.train import train

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "aevs_default.pt"


def _parameter_count(model):
    return sum(parameter.numel() for parameter in model.parameters())


def _whole_blocks(stages):
    return [isinstance(block, BasicBlock) for block in stages]


def test_the_first_encoder_blocks_and_the_last_decoder_blocks_stay_whole(tiny_config):
    config = replace(tiny_config, active_blocks=1)  # 4 blocks, one per stage
    model = Autoencoder(config)
    assert _whole_blocks(model.encoder.stages) == [True, False, False, False]
    assert _whole_blocks(model.decoder.stages) == [False, False, False, True]
    # a resampling block keeps its 1x1 projection; the decoder's last stage block keeps nothing
    assert len(model.encoder.stages[1]) == 1 and len(model.decoder.stages[0]) == 2
    images = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert model.encoder(images).shape == (2, 8) and model(images).shape == images.shape
    assert _parameter_count(model) < _parameter_count(Autoencoder(tiny_config))


def test_depth_outside_the_blocks_is_refused(tiny_config):
    with pytest.raises(ValueError, match=r"active_blocks must lie in \[0, 4\]"):
        replace(tiny_config, active_blocks=5)
    with pytest.raises(ConfigurationError, match="active_blocks"):
        TrainConfig(active_blocks=-1)


def test_all_blocks_active_is_todays_model_and_the_shipped_file_loads_unchanged():
    default, explicit = AutoencoderConfig(), AutoencoderConfig(active_blocks=8)
    torch.manual_seed(0)
    default_model = Autoencoder(default)
    shapes = {name: value.shape for name, value in default_model.state_dict().items()}
    assert shapes == {name: value.shape for name, value in Autoencoder(explicit).state_dict().items()}
    assert _parameter_count(default_model) == _parameter_count(Autoencoder(explicit))

    shipped = load_model(SHIPPED_MODEL)
    assert "active_blocks" not in torch.load(SHIPPED_MODEL, weights_only=True)["model_args"]
    assert shipped.config.active_blocks == 0 and shapes == {
        name: value.shape for name, value in shipped.model.state_dict().items()}
    rebuilt = Autoencoder(explicit).eval()
    rebuilt.load_state_dict(shipped.model.state_dict())
    images = torch.rand(2, 1, 128, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(rebuilt(images), shipped.model(images))


def test_a_shallow_model_trains_a_step_and_serves_its_interaction_matrix(tiny_config):
    torch.manual_seed(0)
    model = Autoencoder(replace(tiny_config, active_blocks=2))
    loss_function = make_loss("dct", 32)
    images = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    loss = loss_function(model(images), images)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    changed = [name for name, value in model.state_dict().items() if not torch.equal(value, before[name])]
    assert any(".stages.2." in name for name in changed)  # a skip projection learns too

    encoder = model.double().eval().encoder
    image = torch.rand(32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    interaction = torch.randn(32 * 32, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    latent, latent_interaction = EncoderLinearization(encoder).latent_and_interaction(image, interaction)
    jacobian = torch.autograd.functional.jacobian(lambda x: encoder(x[None, None])[0], image)
    with torch.no_grad():
        torch.testing.assert_close(latent, encoder(image[None, None])[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(latent_interaction, jacobian.reshape(8, -1) @ interaction, rtol=1e-9, atol=1e-12)


def test_depth_round_trips_through_the_model_file(tmp_path, tiny_config):
    torch.manual_seed(0)
    model = Autoencoder(replace(tiny_config, active_blocks=3)).eval()
    save_model(tmp_path / "shallow.pt", model, {})
    assert torch.load(tmp_path / "shallow.pt", weights_only=True)["model_args"]["active_blocks"] == 3
    loaded = load_model(tmp_path / "shallow.pt")
    assert loaded.config.active_blocks == 3
    images = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(images), model(images))


def test_training_with_a_depth_writes_it_into_the_model_file(tmp_path, tiny_config):
    architecture = {name: getattr(tiny_config, name)
                    for name in ("input_size", "latent_dim", "stage_channels", "blocks_per_stage")}
    config = TrainConfig(train_images=20, val_images=10, epochs=1, batch_size=10, **architecture, active_blocks=1,
                         threads=2, out=str(tmp_path / "model.pt"), work_dir=str(tmp_path / "work"), progress=False)
    result = train(config)
    loaded = load_model(result.model_path)
    assert loaded.config.active_blocks == 1 and _whole_blocks(loaded.model.encoder.stages)[:2] == [True, False]
    assert loaded.metadata["train_config"]["active_blocks"] == 1
