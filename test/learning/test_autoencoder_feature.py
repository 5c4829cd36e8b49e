import numpy as np
import pytest
import torch

from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import InvalidImageError, ModelError
from aevs_ros.core.features import make_feature
from aevs_ros.core.features.autoencoder import AutoencoderFeature
from aevs_ros.core.features.registry import model_input_shape
from aevs_ros.core.photometric import photometric_interaction
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core import se3
from aevs_ros.core.network.linearize import EncoderLinearization


@pytest.fixture
def view():
    camera = default_camera(32)
    return camera, PlanarScene.load(None).render(camera, se3.look_at((0.02, 0.01, 0.6), (0, 0, 0))).image


def test_compute_gives_z_and_Lz_of_the_encoder(tiny_model_file, tiny_model, view):
    camera, image = view
    feature = make_feature("aevs", camera, 0.6, model_path=tiny_model_file)
    assert isinstance(feature, AutoencoderFeature) and feature.name == "aevs" and feature.dim == 8
    sample = feature.compute(image)
    assert sample.s.shape == (8,) and sample.L.shape == (8, 6)
    assert sample.s.dtype == sample.L.dtype == np.float32
    interaction = photometric_interaction(image, camera, 0.6, feature.border)
    z, lz = EncoderLinearization(tiny_model.encoder).latent_and_interaction(
        torch.from_numpy(image), torch.from_numpy(interaction.astype(np.float32)))
    np.testing.assert_allclose(sample.s, z.numpy(), atol=1e-6)
    np.testing.assert_allclose(sample.L, lz.numpy(), atol=1e-6)
    np.testing.assert_allclose(feature.interaction(image, interaction, sample.s), sample.L, atol=1e-6)
    cheap = feature.compute(image, with_interaction=False)
    assert cheap.L is None
    np.testing.assert_allclose(cheap.s, sample.s, atol=1e-6)


def test_reconstruct_is_a_decoded_image(tiny_model_file, view):
    camera, image = view
    feature = AutoencoderFeature(tiny_model_file, camera)
    reconstruction = feature.reconstruct(feature.compute(image, with_interaction=False).s)
    assert reconstruction.shape == (32, 32) and reconstruction.dtype == np.float32
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1


def test_image_of_the_wrong_size_is_a_clear_error(tiny_model_file, view):
    camera, _ = view
    feature = AutoencoderFeature(tiny_model_file, camera)
    with pytest.raises(InvalidImageError, match="takes 32x32 images, got 64x48"):
        feature.compute(np.zeros((48, 64), np.float32))


def test_model_and_camera_of_different_sizes_are_a_model_error(tiny_model_file):
    with pytest.raises(ModelError, match="takes 32x32 images but the camera gives 128x128"):
        AutoencoderFeature(tiny_model_file, default_camera(128))


def test_missing_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        AutoencoderFeature(tmp_path / "none.pt", default_camera(32))
    with pytest.raises(ModelError, match="model file not found"):
        model_input_shape("aevs", tmp_path / "none.pt")


def test_model_input_shape(tiny_model_file):
    assert model_input_shape("aevs", tiny_model_file) == (32, 32)


def test_still_pixels_have_no_share_in_Lz(tiny_model_file, view):
    """L_z of a view whose left half is still is L_z with that half's rows of L_I zeroed."""
    camera, image = view
    feature = make_feature("aevs", camera, 0.6, model_path=tiny_model_file)
    still = np.zeros(camera.shape, bool)
    still[:, :16] = True
    interaction = photometric_interaction(image, camera, 0.6, feature.border)
    interaction[still.ravel()] = 0
    expected = feature.interaction(image, interaction, feature.map(image))
    np.testing.assert_allclose(feature.compute(image, still_pixels=still).L, expected, atol=1e-6)
    assert not np.allclose(feature.compute(image).L, expected, atol=1e-6)
