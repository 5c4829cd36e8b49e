import numpy as np
import pytest

from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import SceneError
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.config import ViewSampling
from aevs_ros.learning.dataset import render_views, sample_poses


@pytest.fixture(scope="module")
def scene():
    return PlanarScene.load(None)


def test_views_are_deterministic_uint8(scene):
    camera = default_camera(32)
    first, poses = render_views(scene, camera, 12, seed=3, progress=False)
    again, _ = render_views(scene, camera, 12, seed=3, progress=False)
    other, _ = render_views(scene, camera, 12, seed=4, progress=False)
    assert first.dtype == np.uint8 and first.shape == (12, 32, 32) and poses.shape == (12, 4, 4)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 10  # textured views, not background


def test_cameras_look_at_focus_points_inside_the_sampling_box():
    sampling = ViewSampling()
    poses = sample_poses(sampling, 500, np.random.default_rng(0))
    eyes, axes = poses[:, :3, 3], poses[:, :3, 2]
    assert np.all(np.abs(eyes[:, :2]) <= sampling.camera_half_extent_m)
    assert np.all((eyes[:, 2] >= sampling.camera_height_min_m) & (eyes[:, 2] <= sampling.camera_height_max_m))
    focus = eyes - axes * (eyes[:, 2] / axes[:, 2])[:, None]  # where the optical axis meets Z = 0
    assert np.all(np.abs(focus[:, :2]) <= sampling.focus_half_extent_m + 1e-9)
    rolls = np.arctan2(poses[:, 1, 0], poses[:, 0, 0])
    assert rolls.min() < -2.5 and rolls.max() > 2.5  # the full circle of rolls is drawn


def test_views_seeing_too_little_of_the_scene_are_redrawn(scene):
    camera = default_camera(32)
    sampling = ViewSampling(min_visible_fraction=0.9)
    for pose in render_views(scene, camera, 10, 0, sampling, progress=False)[1]:
        assert scene.visible_fraction(camera, pose) >= 0.9


def test_a_box_that_never_sees_the_scene_is_a_scene_error(scene):
    sampling = ViewSampling(camera_half_extent_m=0.0, camera_height_min_m=20.0,
                            camera_height_max_m=20.0, min_visible_fraction=0.9)
    with pytest.raises(SceneError, match="shrink the camera box"):
        render_views(scene, default_camera(32), 2, 0, sampling, progress=False)


def test_several_scenes_share_the_count_and_one_scene_is_render_views_itself(scene):
    from aevs_ros.learning.dataset import scene_views

    camera = default_camera(32)
    single, _ = scene_views([scene], camera, 7, seed=3, progress=False)
    assert np.array_equal(single, render_views(scene, camera, 7, seed=3, progress=False)[0])
    coffee = PlanarScene.load("skimage:coffee")
    mixed, poses = scene_views([scene, coffee], camera, 7, seed=3, progress=False)
    assert mixed.shape == (7, 32, 32) and poses.shape == (7, 4, 4)
    assert np.array_equal(mixed, scene_views([scene, coffee], camera, 7, seed=3, progress=False)[0])
    with pytest.raises(SceneError, match="cannot cover"):
        scene_views([scene, coffee], camera, 1, seed=3, progress=False)
