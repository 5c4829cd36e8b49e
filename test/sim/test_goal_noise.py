"""goal_noise_samples: the goal encoded with the views' noise (issue 17, camera imperfections).

The shipped AEVS model answers pixel noise with a bias: noisy views of the goal encode, on
average, away from the clean goal's z*. Encoding the goal with the same noise removes most of it."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features import make_feature
from aevs_ros.core.features.registry import model_input_shape
from aevs_ros.core.image_normalization import NOISE_FLOOR, noise_energy, noise_sigma
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig
from aevs_ros.resources import default_model_path

GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
ELSEWHERE = se3.displaced(GOAL, (0.03, -0.02, 0.05, 2.0, -3.0, 10.0))


@pytest.fixture(scope="module")
def setting():
    camera = default_camera(model_input_shape("aevs", default_model_path("aevs"))[1])
    scene = PlanarScene.load()
    return camera, scene.render(camera, GOAL).image, scene.render(camera, ELSEWHERE).image


def noisy(image, sigma, rng, gain=1.0):
    return np.clip(gain * image + rng.normal(0, sigma, image.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.02, 0.03])
def test_noise_sigma_finds_the_noise_of_another_view_of_the_scene(setting, sigma):
    _, goal, elsewhere = setting
    estimate = noise_sigma(noisy(elsewhere, sigma, np.random.default_rng(1)), noise_energy(goal))
    assert 0.8 * sigma < estimate < 1.15 * sigma, estimate
    assert noise_sigma(elsewhere, noise_energy(goal)) < NOISE_FLOOR


def latent_bias(servo, goal, sigma, frames=48):
    """|mean of the feature errors| over noisy views shot at the goal pose, after one step has
    shown the servo the noise. Each frame's error is random too (about 0.3 here), so the mean
    keeps about 0.3 / sqrt(frames) of it."""
    rng = np.random.default_rng(2)
    servo.step(noisy(goal, sigma, rng))
    errors = [servo.feature.compute(noisy(goal, sigma, rng), with_interaction=False).s - servo.goal.s
              for _ in range(frames)]
    return float(np.linalg.norm(np.mean(errors, axis=0)))


def test_a_goal_encoded_with_the_views_noise_removes_most_of_the_encoder_s_noise_bias(setting):
    camera, goal, _ = setting
    feature = make_feature("aevs", camera, 0.6, model_path=default_model_path("aevs"))
    plain, matched = (Servo(feature, ServoConfig(roll_aid=0, goal_noise_samples=n, normalization="none"))
                      for n in (0, 32))  # latent_bias encodes the views as they come
    for servo in (plain, matched):
        servo.set_goal(goal)
    bias_plain, bias_matched = latent_bias(plain, goal, 0.02), latent_bias(matched, goal, 0.02)
    assert bias_matched < 0.5 * bias_plain, (bias_plain, bias_matched)


def test_clean_views_keep_the_clean_goal_and_turning_the_option_off_restores_it(setting):
    camera, goal, elsewhere = setting
    feature = make_feature("aevs", camera, 0.6, model_path=default_model_path("aevs"))
    servo = Servo(feature, ServoConfig(roll_aid=0, goal_noise_samples=8))
    servo.set_goal(goal)
    clean = servo.goal.s.copy()
    servo.step(elsewhere)
    np.testing.assert_array_equal(servo.goal.s, clean)
    servo.step(noisy(elsewhere, 0.02, np.random.default_rng(3)))
    assert np.linalg.norm(servo.goal.s - clean) > 1e-3  # encoded with the noise
    servo.reconfigure(ServoConfig(roll_aid=0, goal_noise_samples=0))
    servo.step(noisy(elsewhere, 0.02, np.random.default_rng(4)))
    np.testing.assert_allclose(servo.goal.s, clean, rtol=1e-5, atol=1e-5)


def test_a_goal_shot_by_the_same_noisy_camera_is_not_encoded_again_until_the_noise_grows(setting):
    """The goal already carries the camera's noise: views with that noise estimate an extra
    sigma of a few thousandths, frame to frame, which must not re-encode the goal (16 network
    passes) on every step. Views twice as noisy do."""
    camera, goal, elsewhere = setting
    rng = np.random.default_rng(7)
    servo = Servo(make_feature("aevs", camera, 0.6, model_path=default_model_path("aevs")),
                  ServoConfig(roll_aid=0, goal_noise_samples=4))
    servo.set_goal(noisy(goal, 0.02, rng))
    shot = servo.goal.s.copy()
    for view in [goal] * 6 + [elsewhere] * 6:
        servo.step(noisy(view, 0.02, rng))
        np.testing.assert_array_equal(servo.goal.s, shot)
    servo.step(noisy(elsewhere, 0.04, rng))
    assert np.linalg.norm(servo.goal.s - shot) > 1e-3


def test_a_negative_sample_count_is_refused():
    with pytest.raises(ConfigurationError, match="goal_noise_samples"):
        ServoConfig(goal_noise_samples=-1)


@pytest.mark.parametrize("garbage", [np.full((128, 128), np.nan, np.float32), np.zeros((3, 128, 128), np.float32),
                                     np.zeros((32, 32), np.float32), np.full((128, 128), np.inf, np.float32), "image"])
def test_garbage_with_the_noisy_goal_on_is_a_fault_with_a_zero_twist_and_the_next_view_servoes(setting, garbage):
    camera, goal, elsewhere = setting
    servo = Servo(make_feature("dct", camera, 0.6), ServoConfig(roll_aid=0, goal_noise_samples=4,
                                                                normalization="goal_statistics"))
    servo.set_goal(goal)
    rng = np.random.default_rng(5)
    servo.step(noisy(elsewhere, 0.02, rng, gain=1.3))
    command = servo.step(garbage)
    assert command.state.name == "FAULT" and not command.velocity.any() and command.reason
    assert servo.step(noisy(elsewhere, 0.02, rng, gain=1.3)).state.name == "SERVOING"


def test_pure_noise_views_are_encoded_and_servoed_on_without_a_crash(setting):
    """A camera that shows only noise (a covered lens, a broken sensor): the estimate is large,
    the goal is encoded with it, and every twist is finite and within the limits."""
    camera, goal, _ = setting
    config = ServoConfig(roll_aid=0, goal_noise_samples=4, normalization="goal_statistics")
    servo = Servo(make_feature("dct", camera, 0.6), config)
    servo.set_goal(goal)
    clean = servo.goal.s.copy()
    rng = np.random.default_rng(6)
    for _ in range(5):
        command = servo.step(rng.random(goal.shape).astype(np.float32))
        assert np.isfinite(command.velocity).all()
        assert np.linalg.norm(command.velocity[:3]) <= config.max_linear_velocity + 1e-9
    assert not np.array_equal(servo.goal.s, clean)
