"""Camera imperfections: each one does what it says, off means untouched, runs are reproducible."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.imperfections import CameraImperfections, ImperfectCamera
from aevs_ros.core.scene import PlanarScene

CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))


@pytest.fixture(scope="module")
def image():
    return PlanarScene.load().render(CAMERA, GOAL).image


def apply(image, pose=GOAL, twist=None, seed=0, **options):
    return ImperfectCamera(CameraImperfections(**options), CAMERA, seed).apply(image, pose, twist)


def test_off_by_default_leaves_the_image_untouched(image):
    assert not CameraImperfections().active
    np.testing.assert_array_equal(apply(image), image)


def test_noise_has_its_sigma_and_its_seed_reproduces_it(image):
    grey = np.full_like(image, 0.5)
    noisy = apply(grey, noise_std=0.02)
    assert noisy.dtype == np.float32
    assert 0.018 < float(np.std(noisy - grey)) < 0.022
    np.testing.assert_array_equal(noisy, apply(grey, noise_std=0.02))
    assert not np.array_equal(noisy, apply(grey, noise_std=0.02, seed=1))


def test_quantisation_gives_8_bit_levels(image):
    out = apply(image, quantization_bits=8)
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)
    assert np.abs(out - image).max() <= 0.5 / 255 + 1e-6


def test_gain_and_offset_change_the_illumination(image):
    out = apply(image, gain=0.7, offset=0.05)
    np.testing.assert_allclose(out, np.clip(0.7 * image + 0.05, 0, 1), atol=1e-6)


def test_gradient_brightens_one_side_and_keeps_the_middle(image):
    grey = np.full_like(image, 0.5)
    out = apply(grey, gradient=0.4)
    assert out[:, -1].mean() > 0.59 and out[:, 0].mean() < 0.41
    assert abs(out[:, 32].mean() - 0.5) < 0.01


def test_highlight_moves_with_the_camera(image):
    dark = np.zeros_like(image)
    here = apply(dark, GOAL, highlight=0.5, light_position=(0.0, 0.0, 1.5))
    moved = apply(dark, se3.look_at((0.05, 0, 0.6), (0.05, 0, 0)), highlight=0.5, light_position=(0.0, 0.0, 1.5))
    peak_here = np.unravel_index(np.argmax(here), here.shape)
    peak_moved = np.unravel_index(np.argmax(moved), moved.shape)
    assert here.max() == pytest.approx(0.5, abs=0.02)
    assert peak_here == pytest.approx((31.5, 31.5), abs=1.0)  # light straight above: mirror point below the camera
    # camera 5 cm to +X: the mirror point follows by 5 x 1.5 / 2.1 = 3.6 cm, so it drifts
    # 1.4 cm (2.1 px) to the left in the view
    assert peak_moved[1] - peak_here[1] == pytest.approx(-2.1, abs=1.0)


def test_occlusion_covers_its_share_and_a_moving_one_moves(image):
    out = apply(image, occlusion=0.2, occlusion_intensity=0.0)
    assert 0.17 < float((out == 0).mean() - (image == 0).mean()) < 0.23
    camera = ImperfectCamera(CameraImperfections(occlusion=0.2, occlusion_speed=1.0, occlusion_intensity=0.0), CAMERA)
    masks = [camera.apply(np.ones_like(image), dt=0.25) == 0 for _ in range(3)]
    columns = [np.flatnonzero(mask.any(axis=0)) for mask in masks]
    assert columns[1].mean() > columns[0].mean()


def test_motion_blur_grows_with_the_velocity_and_vanishes_at_rest(image):
    at_rest = apply(image, twist=np.zeros(6), motion_blur_exposure=0.02)
    np.testing.assert_array_equal(at_rest, image)
    slow = apply(image, twist=[0.2, 0, 0, 0, 0, 0], motion_blur_exposure=0.05)
    fast = apply(image, twist=[0.5, 0, 0, 0, 0, 0], motion_blur_exposure=0.05)
    sharpness = [float(np.abs(np.diff(x, axis=1)).mean()) for x in (image, slow, fast)]
    assert sharpness[0] > sharpness[1] > sharpness[2]
    # blur along x only: vertical detail survives
    assert np.abs(np.diff(fast, axis=0)).mean() > 0.8 * np.abs(np.diff(image, axis=0)).mean()


@pytest.mark.parametrize("options", [{"noise_std": -1}, {"gain": 0}, {"occlusion": 1.0},
                                     {"quantization_bits": 40}, {"offset": float("nan")},
                                     {"light_position": (0, 0, -1)}])
def test_out_of_range_options_are_refused(options):
    with pytest.raises(ConfigurationError):
        CameraImperfections(**options)


def test_from_mapping_names_an_unknown_option():
    assert CameraImperfections.from_mapping({"gain": 1.3}).gain == 1.3
    with pytest.raises(ConfigurationError, match="nois_sigma"):
        CameraImperfections.from_mapping({"nois_sigma": 0.1})
