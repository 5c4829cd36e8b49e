"""The LM law and the servo state machine, on synthetic linear features."""
import numpy as np
import pytest

from aevs_ros.core.camera import default_camera
from aevs_ros.core.control import InteractionChoice, clamp_twist, levenberg_marquardt
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features.base import Feature, FeatureSample
from aevs_ros.core.photometric import check_image
from aevs_ros.core.servo import Fault, Servo, ServoConfig, ServoState


def test_levenberg_marquardt_matches_its_formula():
    rng = np.random.default_rng(0)
    interaction, error = rng.normal(size=(20, 6)), rng.normal(size=20)
    hessian = interaction.T @ interaction
    expected = -0.5 * np.linalg.inv(hessian + 0.01 * np.diag(np.diag(hessian))) @ interaction.T @ error
    assert np.allclose(levenberg_marquardt(interaction, error, 0.5, 0.01), expected)
    # mu = 0 is Gauss-Newton: exact for linear features
    assert np.allclose(levenberg_marquardt(interaction, interaction @ np.ones(6), 1.0, 0.0), -np.ones(6))
    with pytest.raises(ConfigurationError):
        levenberg_marquardt(interaction, error[:5], 1.0, 0.01)


def test_levenberg_marquardt_damps_each_degree_of_freedom_by_its_weight():
    rng = np.random.default_rng(2)
    interaction, error = rng.normal(size=(20, 6)), rng.normal(size=20)
    weights = np.array([1.0, 1.0, 1.0, 100.0, 100.0, 1.0])
    hessian = interaction.T @ interaction
    expected = -np.linalg.inv(hessian + 0.01 * np.diag(weights * np.diag(hessian))) @ interaction.T @ error
    assert np.allclose(levenberg_marquardt(interaction, error, 1.0, 0.01, weights), expected)
    assert np.allclose(levenberg_marquardt(interaction, error, 1.0, 0.01, np.ones(6)),
                       levenberg_marquardt(interaction, error, 1.0, 0.01))
    # unit weights leave the law bit for bit as it was, in the features' precision (AEVS: float32)
    single = interaction.astype(np.float32), error.astype(np.float32)
    assert np.array_equal(levenberg_marquardt(*single, 1.0, 0.01, np.ones(6)), levenberg_marquardt(*single, 1.0, 0.01))
    with pytest.raises(ConfigurationError):
        ServoConfig(tilt_damping=0.0)


def test_clamp_keeps_direction():
    twist = np.array([2.0, 0, 0, 0, 0, 0.1])
    clamped = clamp_twist(twist, 0.5, 1.0)
    assert np.linalg.norm(clamped[:3]) == pytest.approx(0.5)
    assert np.allclose(clamped / np.linalg.norm(clamped), twist / np.linalg.norm(twist))


def test_interaction_choice_mean():
    a, b = np.ones((3, 6)), 3 * np.ones((3, 6))
    assert np.allclose(InteractionChoice.MEAN.select(a, b), 2.0)
    assert InteractionChoice("desired").select(a, b) is b


def test_interaction_choice_says_which_matrices_it_reads():
    assert [(c.uses_current, c.uses_desired) for c in InteractionChoice] == [
        (True, False), (False, True), (True, True)]


class LinearFeature(Feature):
    """s = A @ pose_offset encoded in the image's first six pixels: L_s = A everywhere."""

    name = "linear"

    def __init__(self):
        super().__init__(default_camera(8))
        self.matrix = np.random.default_rng(1).normal(size=(10, 6))

    @property
    def dim(self):
        return 10

    def compute(self, image, with_interaction=True, still_pixels=None):
        offset = check_image(image, self.camera.shape).ravel()[:6].astype(np.float64)
        return FeatureSample(self.matrix @ offset, self.matrix if with_interaction else None)


def vector_law(**settings) -> ServoConfig:
    """The law for LinearFeature, whose image carries a vector, not light: no photometric option."""
    return ServoConfig(normalization="none", goal_noise_samples=0, **settings)


def image_of(offset):
    image = np.zeros((8, 8), np.float32)
    image.ravel()[:6] = offset
    return image


def test_servo_states_and_convergence():
    servo = Servo(LinearFeature(), vector_law(gain=1.0, mu=0.0, max_linear_velocity=10, max_angular_velocity=10))
    assert servo.step(image_of(np.ones(6))).state is ServoState.IDLE
    servo.set_goal(image_of(np.zeros(6)))
    command = servo.step(image_of(np.full(6, 0.1)))
    assert command.state is ServoState.SERVOING
    assert np.allclose(command.velocity, -0.1, atol=1e-5)
    servo.pause()
    assert servo.step(image_of(np.full(6, 0.1))).state is ServoState.PAUSED
    servo.pause(False)
    command = servo.step(image_of(np.full(6, 1e-8)))
    assert command.state is ServoState.CONVERGED and not command.velocity.any()
    # stays converged for tiny noise, leaves on a disturbance
    assert servo.step(image_of(np.full(6, 5e-6))).state is ServoState.CONVERGED
    assert servo.step(image_of(np.full(6, 1e-3))).state is ServoState.SERVOING


def test_servo_faults_on_bad_images_and_recovers():
    servo = Servo(LinearFeature(), vector_law())
    servo.set_goal(image_of(np.zeros(6)))
    nan_image = image_of(np.full(6, np.nan))
    command = servo.step(nan_image)
    assert command.state is ServoState.FAULT and not command.velocity.any()
    assert "NaN" in command.reason and command.fault is Fault.UNUSABLE_INPUT
    command = servo.step(np.zeros((4, 4), np.float32))
    assert command.state is ServoState.FAULT and "expected a 8x8" in command.reason
    assert servo.step(image_of(np.full(6, 0.1))).state is ServoState.SERVOING


def test_servo_detects_divergence():
    servo = Servo(LinearFeature(), vector_law(divergence_steps=5))
    servo.set_goal(image_of(np.zeros(6)))
    commands = [servo.step(image_of(np.full(6, 0.1 * (k + 1)))) for k in range(6)]
    assert [c.state for c in commands[:5]] == [ServoState.SERVOING] * 5
    assert commands[5].state is ServoState.FAULT and "diverging" in commands[5].reason
    assert commands[5].fault is Fault.DIVERGING and all(c.fault is None for c in commands[:5])


def test_servo_config_validation():
    with pytest.raises(ConfigurationError):
        ServoConfig(gain=0)
    with pytest.raises(ValueError):
        ServoConfig(interaction="sideways")


def test_reconfigure_re_encodes_the_goal_for_a_new_law_and_keeps_a_pause():
    servo = Servo(LinearFeature(), vector_law(interaction="current"))
    servo.set_goal(image_of(np.zeros(6)))
    assert servo.goal.L is None
    servo.pause()
    servo.reconfigure(vector_law(interaction="mean"))
    assert servo.goal.L is not None and servo.state is ServoState.PAUSED
    servo.pause(False)
    servo.step(image_of(np.full(6, 0.1)))
    goal = servo.goal
    servo.reconfigure(vector_law(interaction="mean", gain=3.0))
    assert servo.config.gain == 3.0 and servo.goal is goal and servo.iteration == 1


def test_mu_schedule_switches_at_the_given_step():
    servo = Servo(LinearFeature(), vector_law(mu=0.01, mu_final=1e-4, mu_switch_iteration=2))
    servo.set_goal(image_of(np.zeros(6)))
    damping = []
    for _ in range(3):
        damping.append(servo.damping())
        servo.step(image_of(np.full(6, 0.1)))
    assert damping == [0.01, 0.01, 1e-4]
    assert Servo(LinearFeature(), vector_law(mu=0.01)).damping() == 0.01
    with pytest.raises(ConfigurationError):
        ServoConfig(mu_final=-1.0)
