"""The roll aid: the in-plane rotation between a rendered view and the goal, and the roll phase."""
import cv2
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features import make_feature
from aevs_ros.core.roll_aid import HANDOVER_DEG, MIN_SCORE, RollAid, RollEstimator
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig, ServoState

CAMERA = default_camera(128)
GOAL = se3.look_at((0.05, -0.03, 0.6), (0.05, -0.03, 0.0), np.radians(40.0))


def _other_scene_image():
    """A second texture, unrelated to the default poster: scikit-image's coins."""
    from skimage import data

    return data.coins()


@pytest.fixture(scope="module", params=["poster", "coins"])
def scene(request):
    return PlanarScene.load() if request.param == "poster" else PlanarScene(_other_scene_image(), 0.8)


@pytest.mark.parametrize("roll_deg", [-70.0, -37.0, 12.0, 54.0, 123.0])
@pytest.mark.parametrize("dz", [-0.3, 0.0, 0.3])
def test_estimate_recovers_the_roll_of_a_screw_start(scene, roll_deg, dz):
    estimator = RollEstimator(scene.render(CAMERA, GOAL).image, CAMERA)
    view = scene.render(CAMERA, se3.displaced(GOAL, (0.0, 0.0, dz, 0.0, 0.0, roll_deg))).image
    estimate = estimator.estimate(view)
    assert estimate.angle_deg == pytest.approx(roll_deg, abs=2.5)
    assert estimate.score >= MIN_SCORE
    assert (estimate.scale > 1) == (dz > 0) or dz == 0  # closer is larger


def test_estimate_of_a_rotated_image_is_exact_for_any_texture():
    """An in-plane rotation of the image itself (no rendering) is found to a fraction of a degree."""
    image = np.random.default_rng(0).uniform(size=(128, 128)).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), 3.0)
    estimator = RollEstimator(image, CAMERA)
    for angle in (-150.0, -31.0, 8.0, 66.0):
        rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D((CAMERA.cx, CAMERA.cy), angle, 1.0), (128, 128),
                                 borderMode=cv2.BORDER_REFLECT)
        assert estimator.estimate(rotated).angle_deg == pytest.approx(angle, abs=1.0)


def test_look_at_starts_start_no_roll_phase(scene):
    """Views translated and tilted away from the goal (the look-at test set's first starts) match
    no rotated goal by a large roll with confidence, so the aid leaves them to the law."""
    from aevs_ros.bench.cases import look_at_cases

    cases = look_at_cases(20)
    estimator = RollEstimator(scene.render(CAMERA, cases[0].goal_pose).image, CAMERA)
    estimates = [estimator.estimate(scene.render(CAMERA, case.start_pose).image) for case in cases]
    assert not [e for e in estimates if e.score >= MIN_SCORE and abs(e.angle_deg) > 20.0]
    aid = RollAid(scene.render(CAMERA, cases[0].goal_pose).image, CAMERA, threshold_deg=20.0)
    assert aid.twist(scene.render(CAMERA, cases[0].start_pose).image, gain=10.0) is None
    assert not aid.active


def test_roll_phase_turns_about_the_optical_axis_and_hands_over(scene):
    """Integrating the aid's twists from 70 deg of roll brings the roll under HANDOVER_DEG, then stops."""
    aid = RollAid(scene.render(CAMERA, GOAL).image, CAMERA, threshold_deg=20.0)
    pose = se3.displaced(GOAL, (0.0, 0.0, 0.15, 0.0, 0.0, 70.0))
    twists = []
    while (twist := aid.twist(scene.render(CAMERA, pose).image, gain=10.0)) is not None:
        assert len(twists) < 200
        twists.append(twist)
        pose = se3.integrate(pose, np.clip(twist, -1.0, 1.0), 1 / 30)
    assert twists and all(np.allclose(t[:5], 0.0) and t[5] < 0 for t in twists)
    assert se3.pose_error(pose, se3.displaced(GOAL, (0.0, 0.0, 0.15, 0, 0, 0)))[1] < HANDOVER_DEG + 0.5
    assert aid.twist(scene.render(CAMERA, pose).image, gain=10.0) is None  # over for this goal


def test_small_roll_starts_no_roll_phase(scene):
    aid = RollAid(scene.render(CAMERA, GOAL).image, CAMERA, threshold_deg=20.0)
    assert aid.twist(scene.render(CAMERA, se3.displaced(GOAL, (0, 0, 0, 0, 0, 12.0))).image, 10.0) is None


@pytest.mark.parametrize("method", ["dvs", "dct"])
def test_servo_with_the_aid_starts_with_pure_roll_then_uses_its_law(method):
    scene = PlanarScene.load()
    feature = make_feature(method, CAMERA, 0.6)
    servo = Servo(feature, ServoConfig(roll_aid=20.0))
    servo.set_goal(scene.render(CAMERA, GOAL).image)
    pose = se3.displaced(GOAL, (0.0, 0.0, 0.1, 0.0, 0.0, -54.0))
    first = servo.step(scene.render(CAMERA, pose).image)
    assert first.state is ServoState.SERVOING and np.allclose(first.velocity[:5], 0.0) and first.velocity[5] > 0
    assert np.isfinite(first.error_norm) and first.features is not None
    for _ in range(150):
        command = servo.step(scene.render(CAMERA, pose).image)
        pose = se3.integrate(pose, command.velocity, 1 / 30)
        if not np.allclose(command.velocity[:5], 0.0):
            break
    else:
        pytest.fail("the roll phase never handed over to the law")
    assert se3.pose_error(pose, se3.displaced(GOAL, (0, 0, 0.1, 0, 0, 0)))[1] < 5.0


def test_the_aid_is_on_by_default_and_off_at_zero():
    scene = PlanarScene.load()
    feature = make_feature("dvs", CAMERA, 0.6)
    goal_image = scene.render(CAMERA, GOAL).image
    view = scene.render(CAMERA, se3.displaced(GOAL, (0.0, 0.0, 0.0, 0.0, 0.0, 54.0))).image
    default, law_alone = Servo(feature), Servo(feature, ServoConfig(roll_aid=0.0))
    default.set_goal(goal_image)
    law_alone.set_goal(goal_image)
    assert ServoConfig().roll_aid == 20.0
    assert np.allclose(default.step(view).velocity[:5], 0.0), "the default starts this goal with a pure roll"
    assert not np.allclose(law_alone.step(view).velocity[:5], 0.0)


@pytest.mark.parametrize("value", [-1.0, 180.0])
def test_roll_aid_out_of_range_is_refused(value):
    with pytest.raises(ConfigurationError):
        ServoConfig(roll_aid=value)
