"""The planar renderer: geometry, anti-aliasing consequences, validity, errors and speed budget."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import SceneError
from aevs_ros.core.scene import PlanarScene


def dot_scene(u, v, shape=(300, 400)):
    """A dark scene with one bright Gaussian dot centred at scene pixel (u, v)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((cols - u) ** 2 + (rows - v) ** 2) / (2 * 3.0 ** 2)).astype(np.float32)


def centroid(image):
    weights = np.clip(image - 0.05, 0, None)
    rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return (weights * cols).sum() / weights.sum(), (weights * rows).sum() / weights.sum()


@pytest.mark.parametrize("pose", [
    se3.look_at((0.0, 0.0, 0.6), (0.0, 0.0, 0.0)),
    se3.look_at((0.08, -0.05, 0.5), (0.02, 0.01, 0.0), roll=0.6),
])
def test_scene_point_lands_where_the_pinhole_projection_says(pose):
    scene = PlanarScene(dot_scene(250.0, 120.0), width_m=0.8, blur_sigma=0.0)
    # scene pixel (250, 120) -> world point on the plane
    world = scene.plane_from_pixel @ np.array([250.0, 120.0, 1.0])
    point = np.array([world[0], world[1], 0.0, 1.0])
    camera = default_camera(160)
    in_camera = se3.inverse(pose) @ point
    projected = camera.K @ (in_camera[:3] / in_camera[2])
    u, v = centroid(scene.render(camera, pose).image)
    assert abs(u - projected[0]) < 0.1 and abs(v - projected[1]) < 0.1


def test_top_down_view_is_upright_and_depth_is_height():
    scene = PlanarScene.load()
    camera = default_camera(128)
    view = scene.render(camera, se3.look_at((0, 0, 0.6), (0, 0, 0)))
    assert view.image.dtype == np.float32 and view.image.shape == (128, 128)
    assert view.valid.all()
    assert np.allclose(view.depth[64, 64], 0.6, rtol=1e-3)
    # upright: the same content as the scene's centre crop (correlation with a resampled crop)
    import cv2
    footprint = 0.6 / camera.fx * 128 * scene.pixels_per_metre
    r0, c0 = scene.image.shape[0] / 2, scene.image.shape[1] / 2
    crop = scene.image[int(r0 - footprint / 2):int(r0 + footprint / 2), int(c0 - footprint / 2):int(c0 + footprint / 2)]
    crop = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(crop.ravel(), view.image.ravel())[0, 1] > 0.9
    assert np.corrcoef(crop[::-1].ravel(), view.image.ravel())[0, 1] < 0.5


def test_pixels_off_the_scene_are_background_and_invalid():
    scene = PlanarScene.load(background=0.0)
    camera = default_camera(64)
    view = scene.render(camera, se3.look_at((0.45, 0.0, 0.6), (0.45, 0.0, 0.0)))  # over the right edge
    assert 0.2 < view.visible_fraction < 0.8
    assert view.valid[:, 0].all() and not view.valid[:, -1].any()
    assert scene.visible_fraction(camera, se3.look_at((0.45, 0.0, 0.6), (0.45, 0.0, 0.0))) == pytest.approx(
        view.visible_fraction)


def test_a_pose_that_sees_none_of_the_scene():
    scene = PlanarScene.load()
    camera = default_camera(64)
    looking_up = se3.look_at((0, 0, 0.6), (0, 0, 2.0))
    view = scene.render(camera, looking_up)
    assert view.visible_fraction == 0.0
    assert np.isinf(view.depth).all()
    assert (view.image == scene.background).all()


def test_missing_or_unreadable_scene_file(tmp_path):
    with pytest.raises(SceneError, match="not found"):
        PlanarScene.load(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(SceneError, match="cannot read"):
        PlanarScene.load(bad)
    with pytest.raises(SceneError):
        PlanarScene(np.zeros((4, 4)), 0.8)


def test_user_scene_file_is_loaded_with_its_physical_size(tmp_path):
    import cv2
    path = tmp_path / "poster.png"
    cv2.imwrite(str(path), (np.random.default_rng(1).random((200, 300)) * 255).astype(np.uint8))
    scene = PlanarScene.load(path, width_m=0.6)
    assert scene.height_m == pytest.approx(0.4)
    assert len(scene.fingerprint) == 12
