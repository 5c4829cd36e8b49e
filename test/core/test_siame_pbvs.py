"""The PBVS maths of the siame family, without a network: the interaction matrix of the relative
pose s = (c*t_c, θu) against finite differences of the true pose, and the servo's law on an
exact pose oracle (s is the true pose of the camera in the goal's frame)."""
import numpy as np
import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.control import InteractionChoice
from aevs_ros.core.features.base import Feature, FeatureSample
from aevs_ros.core.features.siame import pose_interaction
from aevs_ros.core.servo import Servo, ServoConfig, ServoState
from aevs_ros.core.simulator import SIMULATED_SERVO

GOAL = se3.look_at((0.1, -0.05, 0.6), (0.1, -0.05, 0.0), roll=0.7)


def _relative_pose(goal, current):
    return se3.pose_vector(se3.inverse(goal) @ current)


@pytest.mark.parametrize("angle_deg", [0.0, 1e-3, 20.0, 70.0, 150.0])
def test_a_small_camera_motion_changes_s_by_L_v_dt(angle_deg):
    rng = np.random.default_rng(int(angle_deg * 10))
    axis = rng.normal(size=3)
    offset = np.concatenate([rng.uniform(-0.4, 0.4, 3), np.radians(angle_deg) * axis / np.linalg.norm(axis)])
    current = GOAL @ se3.pose_from_vector(offset)
    s = _relative_pose(GOAL, current)
    assert np.allclose(s, offset)
    interaction = pose_interaction(s)
    dt = 1e-6
    for twist in rng.normal(size=(4, 6)):
        moved = se3.integrate(current, twist, dt)  # the twist is in the current camera's frame
        rate = (_relative_pose(GOAL, moved) - s) / dt
        assert np.allclose(rate, interaction @ twist, atol=1e-5), (rate, interaction @ twist)


def test_the_rotation_vector_rate_matches_its_textbook_form_on_both_sides_of_the_small_angle_series():
    """J = I + [φ]/2 + (1/θ² - (1 + cos θ) / (2 θ sin θ)) [φ]² (the inverse right Jacobian of SO(3))."""
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    for theta in (0.99e-4, 1.01e-4, 0.3, 2.0):
        phi = theta * axis
        skew = np.array([[0, -phi[2], phi[1]], [phi[2], 0, -phi[0]], [-phi[1], phi[0], 0]])
        coefficient = 1 / theta**2 - (1 + np.cos(theta)) / (2 * theta * np.sin(theta))
        assert np.allclose(se3.rotation_vector_rate(phi), np.eye(3) + skew / 2 + coefficient * skew @ skew,
                           rtol=0, atol=1e-12)
    assert np.allclose(se3.rotation_vector_rate(np.zeros(3)), np.eye(3))
    assert np.isfinite(se3.rotation_vector_rate(np.pi * axis)).all()  # the cotangent form at θ = π


class PoseOracle(Feature):
    """s is the true (t, θu) of the camera in the goal's frame, read from the simulated pose: the
    features a perfect Siame-se(3) network would give. bind_goal takes the goal's pose."""

    name = "oracle"

    def __init__(self, camera):
        super().__init__(camera)
        self.pose = None  #: the simulated camera's world_T_camera, set by the loop
        self.goal_pose = None

    @property
    def dim(self):
        return 6

    def bind_goal(self, image):
        self.goal_pose = self.pose

    def compute(self, image, with_interaction=True, still_pixels=None):
        s = _relative_pose(self.goal_pose, self.pose)
        return FeatureSample(s, pose_interaction(s) if with_interaction else None)


def _servo_from(start, config: ServoConfig, steps=400, dt=1 / 30):
    """Run the servo on the oracle from ``start`` to GOAL; (final pose, camera centres)."""
    oracle = PoseOracle(default_camera(32))
    image = np.zeros(oracle.camera.shape, np.float32)
    oracle.pose = GOAL
    servo = Servo(oracle, config)
    servo.set_goal(image)
    pose, centres = start, [start[:3, 3]]
    for _ in range(steps):
        oracle.pose = pose
        command = servo.step(image)
        if command.state is ServoState.CONVERGED:
            break
        pose = se3.integrate(pose, command.velocity, dt)
        centres.append(pose[:3, 3])
    assert command.state is ServoState.CONVERGED, command
    return pose, np.array(centres)


@pytest.mark.parametrize("interaction", list(InteractionChoice))
def test_the_law_on_the_true_pose_converges_with_every_interaction_choice(interaction):
    start = se3.look_at((0.45, 0.3, 0.7), (0.05, 0.02, 0.0), roll=0.7 + np.radians(4))
    final, _ = _servo_from(start, ServoConfig(**{**SIMULATED_SERVO.__dict__, "interaction": interaction}))
    translation, rotation = se3.pose_error(final, GOAL)
    assert translation < 1e-4 and rotation < 1e-2


def test_with_the_current_interaction_matrix_the_camera_centre_goes_straight_to_the_goal():
    """PBVS on (c*t_c, θu): d(c*t_c)/dt = -gain c*t_c, a straight line in the goal's frame (up to
    the screw each step's twist integrates to, and with mu = 0: the exact Gauss-Newton step)."""
    start = se3.look_at((0.45, 0.3, 0.7), (0.05, 0.02, 0.0), roll=0.7 + np.radians(4))
    config = ServoConfig(**{**SIMULATED_SERVO.__dict__, "interaction": "current", "mu": 0.0, "mu_final": 0.0})
    _, centres = _servo_from(start, config)
    line = GOAL[:3, 3] - start[:3, 3]
    off_line = np.linalg.norm(np.cross(centres - start[:3, 3], line / np.linalg.norm(line)), axis=1)
    assert off_line.max() < 0.01 * np.linalg.norm(line)


def test_the_default_law_converges_from_a_screw_motion_of_70_degrees():
    start = se3.displaced(GOAL, (0.0, 0.0, -0.3, 0.0, 0.0, 70.0))
    final, _ = _servo_from(start, SIMULATED_SERVO)
    translation, rotation = se3.pose_error(final, GOAL)
    assert translation < 1e-4 and rotation < 1e-2
