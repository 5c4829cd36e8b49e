"""L_z = (dz/dI) L_I from the batched forward-mode pass, checked three independent ways."""
import pytest
import torch
from torch import nn

from aevs_ros.core.network.linearize import EncoderLinearization


@pytest.fixture
def double_model(tiny_model):
    return tiny_model.double()


def _inputs(size=32, dtype=torch.float64, seed=1):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(size, size, dtype=dtype, generator=generator)
    interaction = torch.randn(size * size, 6, dtype=dtype, generator=generator)
    return image, interaction


def _encode(encoder, image):
    return encoder(image[None, None])[0]


def test_latent_matches_the_encoder(double_model):
    image, interaction = _inputs()
    linearization = EncoderLinearization(double_model.encoder)
    latent, _ = linearization.latent_and_interaction(image, interaction)
    with torch.no_grad():
        expected = _encode(double_model.encoder, image)
    torch.testing.assert_close(latent, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(linearization.latent(image), expected, rtol=0, atol=1e-12)


def test_interaction_matches_reverse_mode_jacobian(double_model):
    image, interaction = _inputs()
    _, latent_interaction = EncoderLinearization(double_model.encoder).latent_and_interaction(
        image, interaction)
    jacobian = torch.autograd.functional.jacobian(lambda x: _encode(double_model.encoder, x), image)
    expected = jacobian.reshape(len(latent_interaction), -1) @ interaction
    assert latent_interaction.shape == (8, 6)
    torch.testing.assert_close(latent_interaction, expected, rtol=1e-9, atol=1e-12)


def test_interaction_matches_finite_differences_along_each_column_of_L_I(double_model):
    image, interaction = _inputs()
    _, latent_interaction = EncoderLinearization(double_model.encoder).latent_and_interaction(
        image, interaction)
    step = 1e-6
    with torch.no_grad():
        for column in range(6):
            direction = interaction[:, column].reshape(image.shape)
            difference = (_encode(double_model.encoder, image + step * direction)
                          - _encode(double_model.encoder, image - step * direction)) / (2 * step)
            torch.testing.assert_close(latent_interaction[:, column], difference, rtol=1e-5, atol=1e-8)


def test_float32_serving_agrees_with_float64(tiny_model):
    image, interaction = _inputs()
    reference = EncoderLinearization(tiny_model.double().encoder).latent_and_interaction(image, interaction)
    served = EncoderLinearization(tiny_model.float().encoder).latent_and_interaction(
        image.float(), interaction.float())
    assert served[0].dtype == served[1].dtype == torch.float32
    for ours, exact in zip(served, reference):
        torch.testing.assert_close(ours.double(), exact, rtol=1e-4, atol=1e-5)


def test_linear_encoder_gives_W_times_L_I():
    torch.manual_seed(0)
    linear = nn.Linear(16 * 16, 5).double()
    encoder = nn.Sequential(nn.Flatten(), linear)
    image, interaction = _inputs(16)
    latent, latent_interaction = EncoderLinearization(encoder).latent_and_interaction(image, interaction)
    with torch.no_grad():
        torch.testing.assert_close(latent_interaction, linear.weight @ interaction, rtol=0, atol=1e-12)
        expected = linear.weight @ image.reshape(-1) + linear.bias
        torch.testing.assert_close(latent, expected, rtol=0, atol=1e-12)


def test_weight_norm_is_folded_once_and_the_model_left_intact(tiny_model):
    linearization = EncoderLinearization(tiny_model.encoder)
    image, interaction = _inputs(dtype=torch.float32)
    with torch.no_grad():
        tiny_model.encoder.to_latent.parametrizations.weight.original0.mul_(2.0)  # g doubled
        changed = _encode(tiny_model.encoder, image)
    assert not torch.allclose(linearization.latent(image), changed)  # the snapshot is kept


def test_wrong_shapes_and_layers_are_rejected(tiny_model):
    linearization = EncoderLinearization(tiny_model.encoder)
    image, interaction = _inputs(dtype=torch.float32)
    with pytest.raises(ValueError, match=r"L_I must have shape \(1024, 6\)"):
        linearization.latent_and_interaction(image, interaction[:100])
    unsupported = EncoderLinearization(nn.Sequential(nn.Flatten(), nn.Linear(1024, 4), nn.Tanh()))
    with pytest.raises(TypeError, match="no forward-mode rule for layer Tanh"):
        unsupported.latent_and_interaction(image, interaction)
