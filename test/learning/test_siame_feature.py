"""Siame-se(3): its model file, and the siame feature family in the servo (goal binding, s*,
the interaction matrix, refused goals, the coarse start), on tiny untrained networks."""
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import AevsError, InvalidImageError, ModelError
from aevs_ros.core.features import make_feature
from aevs_ros.core.features.registry import family, model_input_shape
from aevs_ros.core.features.siame import SiameFeature, pose_interaction
from aevs_ros.core.network.config import SiameConfig
from aevs_ros.core.network.model import load_model, save_model
from aevs_ros.core.network.siame import load_siame_model, save_siame_model
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.servo import Servo, ServoConfig, ServoState
from aevs_ros.core.servo_session import ServoSession, SessionConfig

CAMERA = default_camera(32)
GOAL = se3.look_at((0.02, 0.01, 0.6), (0.02, 0.01, 0.0), 0.4)


@pytest.fixture(scope="module")
def views():
    """(goal image, another goal image, a current image)."""
    scene = PlanarScene.load(None)
    return (scene.render(CAMERA, GOAL).image,
            scene.render(CAMERA, se3.displaced(GOAL, (0.1, 0.0, 0.0, 0.0, 0.0, 40.0))).image,
            scene.render(CAMERA, se3.displaced(GOAL, (0.03, -0.02, 0.05, 2.0, -3.0, 15.0))).image)


# -- the model file ------------------------------------------------------------------------------

def test_the_model_file_rebuilds_the_network_alone(tmp_path, tiny_siame):
    path = tmp_path / "model.pt"
    save_siame_model(path, tiny_siame, {"val_loss": 0.25})
    loaded = load_siame_model(path)
    assert loaded.config == tiny_siame.config and loaded.metadata == {"val_loss": 0.25}
    current, goal = torch.rand(3, 1, 32, 32), torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(current, goal), tiny_siame(current, goal))
        # the goal's feature map computed once gives the same estimate
        assert torch.equal(loaded.model.regress(loaded.model.embed(current), loaded.model.embed(goal)),
                           loaded.model(current, goal))


def test_missing_garbage_and_foreign_files_are_model_errors(tmp_path, tiny_siame_file, tiny_model_file):
    with pytest.raises(ModelError, match="model file not found: .*none.pt .*train_siame.yaml"):
        load_siame_model(tmp_path / "none.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02garbage" * 100)
    with pytest.raises(ModelError, match="cannot read model file"):
        load_siame_model(garbage)
    with pytest.raises(ModelError, match="not a Siame-se\\(3\\) model file"):
        load_siame_model(tiny_model_file)
    with pytest.raises(ModelError, match="not an AEVS autoencoder file"):
        load_model(tiny_siame_file)
    mismatch = tmp_path / "mismatch.pt"
    saved = torch.load(tiny_siame_file, weights_only=True)
    saved["model_args"]["head_width"] = 32  # the stored weights are for 16
    torch.save(saved, mismatch)
    with pytest.raises(ModelError, match="does not match the Siame-se\\(3\\) architecture"):
        load_siame_model(mismatch)


def test_impossible_architectures_are_refused():
    with pytest.raises(ValueError, match="fusion_stage must lie in \\[1, 4\\]"):
        SiameConfig(fusion_stage=0)
    with pytest.raises(ValueError, match="multiple of 32"):
        SiameConfig(input_size=100)


def test_the_autoencoder_file_layout_is_unchanged(tmp_path, tiny_model):
    """save_model now writes through the shared write_model_file: same keys as before."""
    path = tmp_path / "ae.pt"
    save_model(path, tiny_model, {})
    assert set(torch.load(path, weights_only=True)) == {"format", "format_version", "model_args",
                                                         "normalization", "metadata", "state_dict"}


# -- the feature ---------------------------------------------------------------------------------

def test_the_registry_builds_the_family_from_its_model_file(tiny_siame_file):
    entry = family("siame")
    assert entry.needs_model and entry.uses_torch and entry.default_model == "models/siame_default.pt"
    assert model_input_shape("siame", tiny_siame_file) == (32, 32)
    feature = make_feature("siame", CAMERA, 0.6, model_path=tiny_siame_file)
    assert isinstance(feature, SiameFeature) and feature.dim == 6
    assert SiameFeature.model_scene_fingerprint(tiny_siame_file) == "0123456789ab"
    with pytest.raises(ModelError, match="takes 32x32 images but the camera gives 64x64"):
        make_feature("siame", default_camera(64), 0.6, model_path=tiny_siame_file)


def test_s_is_the_networks_estimate_against_the_bound_goal_and_L_its_pbvs_matrix(tiny_siame_file, tiny_siame,
                                                                                    views):
    goal, other_goal, current = views
    feature = SiameFeature(tiny_siame_file, CAMERA)
    with pytest.raises(AevsError, match="bind_goal"):
        feature.compute(current)
    feature.bind_goal(goal)
    sample = feature.compute(current)
    with torch.no_grad():
        expected = tiny_siame(torch.from_numpy(current)[None, None], torch.from_numpy(goal)[None, None])[0]
    np.testing.assert_allclose(sample.s, expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(sample.L, pose_interaction(sample.s))
    assert feature.compute(current, with_interaction=False).L is None
    feature.bind_goal(other_goal)
    assert not np.allclose(feature.compute(current).s, sample.s, rtol=0, atol=1e-7)
    with pytest.raises(InvalidImageError, match="takes 32x32 images, got 64x64"):
        feature.bind_goal(np.zeros((64, 64), np.float32))


def test_the_servo_binds_the_goal_and_subtracts_the_goal_against_itself(tiny_siame_file, views):
    goal, _, current = views
    feature = SiameFeature(tiny_siame_file, CAMERA)
    servo = Servo(feature, ServoConfig(interaction="current", normalization="none"))  # the views as they come
    servo.set_goal(goal)
    reference = SiameFeature(tiny_siame_file, CAMERA)
    reference.bind_goal(goal)
    np.testing.assert_allclose(servo.goal.s, reference.compute(goal).s)
    command = servo.step(current)
    s = reference.compute(current).s
    np.testing.assert_allclose(command.features, s)
    assert command.error_norm == pytest.approx(np.linalg.norm(s - servo.goal.s))


def test_a_refused_goal_leaves_the_old_one_bound(tiny_siame_file, views):
    goal, _, current = views
    feature = SiameFeature(tiny_siame_file, CAMERA)
    servo = Servo(feature)
    servo.set_goal(goal)
    before = feature.compute(current).s
    overflowing = np.full(CAMERA.shape, 1e38, np.float32)  # finite, but the network overflows on it
    with pytest.raises(AevsError, match="goal image hold NaN or infinite values"):
        servo.set_goal(overflowing)
    assert servo.goal_image is goal
    np.testing.assert_array_equal(feature.compute(current).s, before)


def test_the_coarse_start_binds_the_blurred_goal_then_the_goal(tiny_siame_file, views):
    goal, _, current = views
    sigma = 2.0

    def blurred(image):
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)

    feature = SiameFeature(tiny_siame_file, CAMERA)
    servo = Servo(feature, ServoConfig(coarse_blur=sigma, normalization="none"))  # the views as they come
    servo.set_goal(goal)
    reference = SiameFeature(tiny_siame_file, CAMERA)
    reference.bind_goal(blurred(goal))
    # the untrained network barely moves s, so the first coarse step already asks for a small
    # step: the servo hands over to the sharp images after it
    np.testing.assert_allclose(servo.step(current).features, reference.compute(blurred(current)).s, atol=1e-6)
    reference.bind_goal(goal)
    command = servo.step(current)
    assert command.state in (ServoState.SERVOING, ServoState.CONVERGED)
    np.testing.assert_allclose(command.features, reference.compute(current).s, atol=1e-6)


def test_a_session_refuses_an_unreadable_siame_model_at_start(tmp_path):
    path = tmp_path / "siame.pt"
    path.write_bytes(b"")
    with pytest.raises(ModelError):
        ServoSession(SessionConfig("siame", model_path=str(path)))


def test_a_session_servoes_with_the_siame_family_at_the_models_input_size(tiny_siame_file, views):
    goal, _, current = views
    session = ServoSession(SessionConfig("siame", model_path=str(tiny_siame_file),
                                         servo=replace(ServoConfig(), interaction="mean")))
    large = cv2.resize(current, (64, 64), interpolation=cv2.INTER_LINEAR)  # the camera sends 64x64
    command, fitted = session.step(large, None)
    assert fitted.shape == (32, 32) and command.state is ServoState.IDLE
    session.set_goal(None)
    command, _ = session.step(large, None)
    assert command.state in (ServoState.SERVOING, ServoState.CONVERGED) and command.features.shape == (6,)
