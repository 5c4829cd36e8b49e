"""L_I against finite differences of rendered images, and input checking."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError, InvalidImageError
from aevs_ros.core.features import make_feature
from aevs_ros.core.photometric import check_image, photometric_interaction
from aevs_ros.core.scene import PlanarScene

DOF = ["vx", "vy", "vz", "wx", "wy", "wz"]


def finite_difference_columns(scene, camera, pose, delta=1e-3):
    columns = []
    for k in range(6):
        step = np.zeros(6)
        step[k] = delta
        ahead = scene.render(camera, se3.integrate(pose, step, 1.0)).image
        behind = scene.render(camera, se3.integrate(pose, -step, 1.0)).image
        columns.append((ahead - behind).ravel() / (2 * delta))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("pose", [
    se3.look_at((0, 0, 0.6), (0, 0, 0)),
    se3.look_at((0.1, -0.05, 0.5), (0.02, 0.0, 0.0), roll=0.4),
])
@pytest.mark.parametrize("size", [128, 224])
def test_interaction_matches_finite_differences(pose, size):
    scene = PlanarScene.load()
    camera = default_camera(size)
    view = scene.render(camera, pose)
    interaction = photometric_interaction(view.image, camera, view.depth)
    numeric = finite_difference_columns(scene, camera, pose)
    inside = np.any(interaction != 0, axis=1)
    for k, name in enumerate(DOF):
        correlation = np.corrcoef(numeric[inside, k], interaction[inside, k])[0, 1]
        assert correlation > 0.95, f"{name}: correlation {correlation:.3f}"
        scale = np.dot(numeric[inside, k], interaction[inside, k]) / np.dot(interaction[inside, k],
                                                                              interaction[inside, k])
        assert 0.85 < scale < 1.15, f"{name}: magnitude off by {scale:.2f}"


def test_border_rows_are_zero():
    camera = default_camera(32)
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    interaction = photometric_interaction(image, camera, 0.6, border=5).reshape(32, 32, 6)
    assert not interaction[:5].any() and not interaction[:, -5:].any()
    assert interaction[5:-5, 5:-5].any()
    with pytest.raises(ConfigurationError):
        photometric_interaction(image, camera, 0.6, border=1)


def test_bad_images_are_rejected_with_a_reason():
    camera = default_camera(32)
    feature = make_feature("dvs", camera, 0.6)
    with pytest.raises(InvalidImageError, match="expected a 32x32"):
        feature.compute(np.zeros((16, 32), np.float32))
    with pytest.raises(InvalidImageError, match="single-channel"):
        feature.compute(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(InvalidImageError, match="dtype"):
        feature.compute(np.zeros((32, 32), np.int32))
    nan_image = np.zeros((32, 32), np.float32)
    nan_image[3, 4] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        feature.compute(nan_image)
    assert check_image(np.full((4, 4), 255, np.uint8)).max() == pytest.approx(1.0)


def test_dvs_feature_shapes_and_reconstruction():
    camera = default_camera(32)
    feature = make_feature("dvs", camera, 0.6)
    image = np.random.default_rng(2).random((32, 32)).astype(np.float32)
    sample = feature.compute(image)
    assert sample.s.shape == (feature.dim,) and sample.L.shape == (feature.dim, 6)
    assert feature.compute(image, with_interaction=False).L is None
    inner = feature.reconstruct(sample.s)[feature.border:-feature.border, feature.border:-feature.border]
    assert np.allclose(inner, image[feature.border:-feature.border, feature.border:-feature.border])
    with pytest.raises(ConfigurationError, match="unknown feature family"):
        make_feature("sift", camera)
