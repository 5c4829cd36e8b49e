"""An occluder fixed to the camera: found as the pixels that stay put, filled from the goal."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.features import make_feature
from aevs_ros.core.imperfections import CameraImperfections, ImperfectCamera
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig
from aevs_ros.core.static_occlusion import StaticOcclusion, fill_from_goal

CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
#: a path away from the goal and back: 5 cm and 10 deg out, enough to change most textured pixels
PATH = [se3.displaced(GOAL, (0.05 * t, -0.03 * t, 0.02 * t, 10.0 * t, -5.0 * t, 10.0 * t))
        for t in np.concatenate([np.linspace(0, 1, 8), np.linspace(1, 0, 8)])]
STATIC = CameraImperfections(occlusion=0.2, noise_std=0.02)


@pytest.fixture(scope="module")
def scene():
    return PlanarScene.load()


def views(scene, imperfections, poses=PATH):
    camera = ImperfectCamera(imperfections, CAMERA, seed=1)
    return [camera.apply(scene.render(CAMERA, pose).image) for pose in poses]


def occluder_mask(imperfections):
    blank = np.full(CAMERA.shape, 0.5, np.float32)
    return ImperfectCamera(imperfections, CAMERA).apply(blank) != blank


def test_the_pixels_of_a_static_occluder_are_found_under_noise(scene):
    occlusion = StaticOcclusion()
    masks = [occlusion.update(view) for view in views(scene, STATIC)]
    assert masks[0] is None and masks[1] is None  # the camera has barely moved: nothing trusted yet
    truth = occluder_mask(CameraImperfections(occlusion=0.2))
    found = masks[-1]
    assert found is not None
    assert np.all(found[truth])  # the whole occluder is found ...
    assert np.mean(found[~truth]) < 0.15  # ... and little of the scene with it


def test_an_occluder_that_slides_across_is_not_taken_for_a_static_one(scene):
    sliding = CameraImperfections(occlusion=0.2, occlusion_speed=1.0)
    occlusion = StaticOcclusion()
    for view in views(scene, sliding):
        found = occlusion.update(view)
    truth_at_start = occluder_mask(CameraImperfections(occlusion=0.2))
    assert found is None or np.mean(found[truth_at_start]) < 0.5


def test_fill_from_goal_replaces_the_masked_pixels_only():
    goal, view = np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    filled = fill_from_goal(view, mask, goal)
    assert filled[1, 2] == 0 and filled.sum() == 15
    assert fill_from_goal(view, None, goal) is view


@pytest.mark.parametrize("family", ["dct", "dvs"])
def test_with_static_occlusion_the_error_vanishes_at_the_goal_under_an_occluder(scene, family):
    """After a motion, the view at the goal pose (the occluder in it) is the goal again;
    without the option the occluder's error stays, and turning it off brings it back."""
    occluded = CameraImperfections(occlusion=0.2)
    path = views(scene, occluded)
    feature = make_feature(family, CAMERA, 0.6)
    plain = Servo(feature, ServoConfig(roll_aid=0))
    plain.set_goal(scene.render(CAMERA, GOAL).image)
    unmatched = plain.step(path[-1]).error_norm
    servo = Servo(feature, ServoConfig(roll_aid=0, static_occlusion=True))
    servo.set_goal(scene.render(CAMERA, GOAL).image)
    errors = [servo.step(view).error_norm for view in path]
    assert errors[-1] < 0.05 * unmatched, (errors[-1], unmatched)
    servo.reconfigure(ServoConfig(roll_aid=0))
    assert servo.step(path[-1]).error_norm == pytest.approx(unmatched, rel=1e-5)


def test_a_camera_that_does_not_move_paints_nothing(scene):
    """Every pixel of a still camera stays put: none may be taken for an occluder."""
    view = views(scene, CameraImperfections(occlusion=0.2), [GOAL])[0]
    feature = make_feature("dct", CAMERA, 0.6)
    servo = Servo(feature, ServoConfig(roll_aid=0, static_occlusion=True))
    servo.set_goal(scene.render(CAMERA, GOAL).image)
    first = servo.step(view).error_norm
    for _ in range(5):
        assert servo.step(view).error_norm == pytest.approx(first)
    assert first > 0.1


@pytest.mark.parametrize("family", ["dct", "dvs"])
def test_still_pixels_have_no_share_in_the_interaction_matrix(scene, family):
    """A pixel that does not move with the camera cannot tell the camera's motion: its row of L_I
    is zero, so a view whose every pixel is still has L_s = 0."""
    feature = make_feature(family, CAMERA, 0.6)
    view = scene.render(CAMERA, GOAL).image
    assert np.abs(feature.compute(view).L).max() > 0
    assert np.abs(feature.compute(view, still_pixels=np.ones(CAMERA.shape, bool)).L).max() == 0


@pytest.mark.parametrize("garbage", [np.full(CAMERA.shape, np.nan, np.float32), np.zeros((3, 64, 64), np.float32),
                                     np.zeros((32, 32), np.float32), "image"])
def test_garbage_with_static_occlusion_on_is_a_fault_with_a_zero_twist(scene, garbage):
    servo = Servo(make_feature("dct", CAMERA, 0.6), ServoConfig(roll_aid=0, static_occlusion=True))
    servo.set_goal(scene.render(CAMERA, GOAL).image)
    command = servo.step(garbage)
    assert command.state.name == "FAULT" and not command.velocity.any() and command.reason


def test_an_8_bit_view_is_filled_in_the_goal_s_units(scene):
    """A uint8 view is turned into [0, 1] before the goal's pixels are put in it: the error at
    the goal pose is the same as with the float view."""
    path = views(scene, CameraImperfections(occlusion=0.2, quantization_bits=8))
    errors = []
    for as_bytes in (False, True):
        servo = Servo(make_feature("dct", CAMERA, 0.6), ServoConfig(roll_aid=0, static_occlusion=True))
        servo.set_goal(scene.render(CAMERA, GOAL).image)
        for view in path:
            command = servo.step(np.round(view * 255).astype(np.uint8) if as_bytes else view)
        errors.append(command.error_norm)
    assert errors[1] == pytest.approx(errors[0], rel=1e-4, abs=1e-6)
