"""Coarse-to-fine start: the servo's first steps on blurred images, then the images themselves."""
from dataclasses import replace

import cv2
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.coarse_start import MAX_COARSE_STEPS, CoarseStart
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features import make_feature
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig, ServoState
from aevs_ros.core.simulator import SIMULATED_SERVO, simulate

CAMERA = default_camera(64)
GOAL = se3.look_at((0.02, 0.01, 0.6), (0.02, 0.01, 0.0), 0.4)


@pytest.fixture(scope="module")
def views():
    scene = PlanarScene.load()
    start = se3.displaced(GOAL, (0.03, -0.02, 0.05, 2.0, -3.0, 15.0))
    return scene, scene.render(CAMERA, GOAL).image, scene.render(CAMERA, start).image


def _blurred(image, sigma):
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def test_first_steps_servo_the_blurred_view_to_the_blurred_goal(views):
    _, goal, view = views
    feature = make_feature("dct", CAMERA, 0.6)
    # no normalisation: the reference would match the blurred view to the blurred goal's spread,
    # the coarse start matches the view to the goal's, then blurs
    law = ServoConfig(normalization="none")
    coarse = Servo(feature, replace(law, coarse_blur=3.0))
    coarse.set_goal(goal)
    reference = Servo(feature, law)
    reference.set_goal(_blurred(goal, 3.0))
    assert np.allclose(coarse.step(view).velocity, reference.step(_blurred(view, 3.0)).velocity)
    plain = Servo(feature, law)
    plain.set_goal(goal)
    assert not np.allclose(coarse.step(view).velocity, plain.step(view).velocity)


def test_hands_over_to_the_sharp_images_when_the_blurred_step_is_small(views):
    _, goal, _ = views
    feature = make_feature("dct", CAMERA, 0.6)
    servo = Servo(feature, ServoConfig(coarse_blur=3.0))
    servo.set_goal(goal)
    first = servo.step(goal)  # at the goal: the blurred law asks for nothing, so it hands over
    assert first.state is ServoState.SERVOING and servo._coarse is None
    assert servo.step(goal).state is ServoState.CONVERGED  # the sharp images decide convergence


def test_the_coarse_phase_is_bounded(views):
    _, goal, _ = views
    start = CoarseStart(make_feature("dvs", CAMERA, 0.6), goal, 2.0, with_interaction=False)
    assert not any(start.finished(1.0, 1.0) for _ in range(MAX_COARSE_STEPS - 1))
    assert start.finished(1.0, 1.0)


def test_closed_loop_with_a_coarse_start_ends_as_precisely(views):
    scene, _, _ = views
    start = se3.displaced(GOAL, (0.03, -0.02, 0.05, 2.0, -3.0, 15.0))
    result = simulate(scene, CAMERA, make_feature("dvs", CAMERA, 0.6), GOAL, start,
                      replace(SIMULATED_SERVO, coarse_blur=2.0), record_images=False)
    assert result.servo_converged, result.stop_reason
    assert result.final_error[0] < 1e-4 and result.final_error[1] < 0.01


def test_negative_blur_is_refused():
    with pytest.raises(ConfigurationError):
        ServoConfig(coarse_blur=-1.0)
