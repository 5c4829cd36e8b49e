"""The options against camera imperfections: normalisation to the goal image, robust weights."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.control import tukey_weights
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features import make_feature
from aevs_ros.core.image_normalization import SATURATION_STEP, Normalization, clip_like, saturated_fraction
from aevs_ros.core.imperfections import CameraImperfections, ImperfectCamera
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig

CAMERA = default_camera(64)
GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))
NEAR = se3.displaced(GOAL, (0.01, -0.01, 0.005, 1.0, -1.0, 0.5))


@pytest.fixture(scope="module")
def scene():
    return PlanarScene.load()


def test_tukey_weights_drop_outliers_and_keep_inliers():
    residual = np.random.default_rng(0).normal(0, 0.01, 1000)
    residual[:50] = 0.5  # an occluder
    weights = tukey_weights(residual)
    assert weights.shape == residual.shape and weights.min() >= 0 and weights.max() <= 1
    assert np.all(weights[:50] == 0)
    assert np.median(weights[50:]) > 0.9


@pytest.mark.parametrize("mode", ["goal_statistics", "histogram"])
def test_normalisation_undoes_an_illumination_change(scene, mode):
    goal = scene.render(CAMERA, GOAL).image
    brighter = np.clip(1.2 * goal + 0.03, 0, 1)
    restored = Normalization(mode).apply(brighter, goal)
    assert np.abs(restored - goal).mean() < 0.1 * np.abs(brighter - goal).mean()
    np.testing.assert_array_equal(Normalization("none").apply(brighter, goal), brighter)


def test_clip_like_flattens_the_goal_s_brightest_share_and_keeps_the_rest(scene):
    goal = scene.render(CAMERA, GOAL).image
    clipped = clip_like(goal, 0.2)
    ceiling = clipped.max()
    assert 0.19 <= np.mean(clipped == ceiling) <= 0.21
    np.testing.assert_array_equal(clipped[goal < ceiling], goal[goal < ceiling])
    assert clip_like(goal, SATURATION_STEP) is goal


@pytest.mark.parametrize("mode", ["goal_statistics", "histogram"])
def test_a_brighter_light_that_clips_leaves_no_error_at_the_goal(scene, mode):
    """A 30 % brighter light clips a fifth of the view; compared with the goal clipped alike,
    the normalised view at the goal pose is the goal again, without it the error stays."""
    goal = scene.render(CAMERA, GOAL).image
    brighter = np.clip(1.3 * goal, 0, 1).astype(np.float32)
    assert saturated_fraction(brighter) > 0.1
    feature = make_feature("dct", CAMERA, 0.6)
    servo = Servo(feature, ServoConfig(normalization=mode, roll_aid=0))
    servo.set_goal(goal)
    unmatched = np.linalg.norm(feature.compute(Normalization(mode).apply(brighter, goal)).s - servo.goal.s)
    matched = servo.step(brighter).error_norm
    assert matched < 0.1 * unmatched, (matched, unmatched)
    # unclipped views compare with the goal itself again, once the smoothed share has settled
    errors = [servo.step(goal).error_norm for _ in range(25)]
    assert errors[-1] < 1e-6, errors


def test_one_view_s_jitter_of_the_clipped_share_does_not_clip_the_goal_again(scene):
    """Noise makes the clipped share of one view jitter; the goal is clipped at the share
    smoothed over views, so a single view off by 1 % does not re-encode it."""
    goal = scene.render(CAMERA, GOAL).image
    brighter = np.clip(1.3 * goal, 0, 1).astype(np.float32)
    # no goal noise: the pixels this test clips one by one would read as noise
    servo = Servo(make_feature("dct", CAMERA, 0.6), ServoConfig(normalization="goal_statistics", roll_aid=0,
                                                                goal_noise_samples=0))
    servo.set_goal(goal)
    servo.step(brighter)
    clipped_goal = servo.goal.s.copy()
    brighter_still = brighter.copy()  # 3 steps' worth more pixels clipped
    unclipped = np.flatnonzero(brighter < 0.9)
    brighter_still.flat[unclipped[:int(3 * SATURATION_STEP * brighter.size) + 1]] = 1.0
    assert saturated_fraction(brighter_still) - saturated_fraction(brighter) > 3 * SATURATION_STEP
    servo.step(brighter_still)
    assert np.array_equal(servo.goal.s, clipped_goal)
    for _ in range(10):
        servo.step(brighter_still)
    assert not np.array_equal(servo.goal.s, clipped_goal)  # a lasting change is followed


def test_turning_normalisation_off_compares_with_the_goal_itself_again(scene):
    goal = scene.render(CAMERA, GOAL).image
    servo = Servo(make_feature("dct", CAMERA, 0.6), ServoConfig(normalization="goal_statistics", roll_aid=0))
    servo.set_goal(goal)
    servo.step(np.clip(1.3 * goal, 0, 1).astype(np.float32))  # the goal is clipped like this view
    servo.reconfigure(ServoConfig(normalization="none", roll_aid=0))
    assert servo.step(goal).error_norm < 1e-6


def test_unknown_normalisation_is_refused():
    with pytest.raises(ConfigurationError, match="normalization"):
        ServoConfig(normalization="sideways")


def step_error(scene, config, imperfections, pose=NEAR):
    """Angle [deg] between the step asked for under an imperfection and the clean step."""
    feature = make_feature("dvs", CAMERA, 0.6)
    clean, degraded = Servo(feature, config), Servo(feature, config)
    for servo in (clean, degraded):
        servo.set_goal(scene.render(CAMERA, GOAL).image)
    view = scene.render(CAMERA, pose).image
    v_clean = clean.step(view).velocity
    v_bad = degraded.step(ImperfectCamera(imperfections, CAMERA).apply(view, pose)).velocity
    cosine = v_clean @ v_bad / np.linalg.norm(v_clean) / np.linalg.norm(v_bad)
    return float(np.degrees(np.arccos(np.clip(cosine, -1, 1))))


def test_goal_statistics_restores_the_step_under_a_gain_change(scene):
    brighter = CameraImperfections(gain=1.3)
    plain = step_error(scene, ServoConfig(normalization="none"), brighter)
    normalised = step_error(scene, ServoConfig(normalization="goal_statistics"), brighter)
    assert normalised < 0.25 * plain, (plain, normalised)


def test_robust_weights_restore_the_step_under_an_occluder(scene):
    """With no normalisation: the occluder's pixels are outliers and nothing else is."""
    occluded = CameraImperfections(occlusion=0.15, occlusion_intensity=1.0)
    plain = step_error(scene, ServoConfig(normalization="none"), occluded)
    robust = step_error(scene, ServoConfig(robust=True, normalization="none"), occluded)
    assert robust < 0.2 * plain, (plain, robust)


def test_dvs_weights_also_drop_the_pixels_whose_gradient_sees_an_outlier():
    feature = make_feature("dvs", CAMERA, 0.6)
    side = CAMERA.width - 2 * feature.border
    error = np.random.default_rng(0).normal(0, 0.01, (side, side))
    error[20, 20] = 1.0
    weights = feature.error_weights(error.ravel()).reshape(side, side)
    reach = feature.border  # the 7-tap derivative filter's half width
    assert np.all(weights[20 - reach:21 + reach, 20 - reach:21 + reach] == 0)
    assert np.median(weights) > 0.9
