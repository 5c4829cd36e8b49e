"""Training Siame-se(3) (`aevs train --family siame`): the pairs, the loss, a tiny run end to end
with its log, checkpoint, resume and model file, and the settings of one family only."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from aevs_ros.bench import cases
from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.network.siame import load_siame_model
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.config import PairSampling, TrainConfig
from aevs_ros.learning.dataset import render_pairs, sample_pair_poses, scene_pairs
from aevs_ros.learning.losses import PoseLoss
from aevs_ros.learning.train import CHECKPOINT_NAME, LOG_NAME, train

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_run(tiny_siame_settings):
    """make(folder, **changes): the TrainConfig of a tiny run writing into folder."""
    def make(folder, **changes):
        settings = dict(family="siame", train_images=120, val_images=30, epochs=3, batch_size=10, threads=1,
                        out=str(folder / "siame.pt"), work_dir=str(folder / "work"), progress=False,
                        **tiny_siame_settings)
        return TrainConfig(**{**settings, **changes})
    return make


def _log_rows(config):
    with open(Path(config.work_dir) / LOG_NAME) as stream:
        return list(csv.DictReader(stream))


# -- pairs ---------------------------------------------------------------------------------------

def test_the_pair_sampling_defaults_are_the_table_i_test_sets():
    sampling = PairSampling()
    assert sampling.goal_height_m == cases.GOAL_HEIGHT_M
    assert sampling.goal_half_extent_m == cases.SCREW_GOAL_HALF_EXTENT_M
    assert sampling.look_at_half_extent_m == cases.LOOK_AT_START_HALF_EXTENT_M
    assert sampling.look_at_target_radius_m == cases.LOOK_AT_TARGET_NOISE_RADIUS_M
    assert sampling.look_at_max_roll_deg == cases.LOOK_AT_MAX_ROLL_DEG
    assert sampling.screw_max_translation_m == cases.SCREW_TRANSLATIONS_M.max()
    assert sampling.screw_max_rotation_deg == cases.SCREW_ROTATIONS_DEG.max()
    assert sampling.min_visible_fraction == cases.MIN_VISIBLE_FRACTION


def test_goals_look_down_like_the_test_goals_and_currents_lie_within_the_test_starts():
    sampling = PairSampling(path_jitter=0.0)
    goals, currents = sample_pair_poses(sampling, 400, np.random.default_rng(0))
    assert np.allclose(goals[:, 2, 3], sampling.goal_height_m)
    assert np.abs(goals[:, :2, 3]).max() <= sampling.goal_half_extent_m
    assert np.allclose(goals[:, :3, 2], [0.0, 0.0, -1.0])  # optical axis straight down
    relative = np.array([se3.pose_vector(se3.inverse(g) @ c) for g, c in zip(goals, currents)])
    look_at_reach = np.linalg.norm(cases.LOOK_AT_START_HALF_EXTENT_M)
    assert np.linalg.norm(relative[:, :3], axis=1).max() <= look_at_reach + 1e-9
    assert np.degrees(np.linalg.norm(relative[:, 3:], axis=1)).max() < 90.0
    # a uniform fraction of the way: near and far pairs alike
    distance = np.linalg.norm(relative[:, :3], axis=1)
    assert (distance < 0.05).mean() > 0.1 and (distance > 0.2).mean() > 0.2


def test_each_pair_is_the_current_view_the_goal_view_and_the_current_pose_in_the_goal_frame():
    scene, camera = PlanarScene.load(None), default_camera(32)
    sampling = PairSampling(min_visible_fraction=0.0)  # nothing redrawn: the first draw is the pairs
    currents, goals, labels = render_pairs(scene, camera, 6, seed=5, sampling=sampling, progress=False)
    goal_poses, current_poses = sample_pair_poses(sampling, 6, np.random.default_rng(5))
    for index in range(6):
        assert np.array_equal(goals[index], np.rint(scene.render(camera, goal_poses[index]).image * 255))
        assert np.array_equal(currents[index], np.rint(scene.render(camera, current_poses[index]).image * 255))
        moved = goal_poses[index] @ se3.pose_from_vector(labels[index])
        assert np.allclose(moved, current_poses[index], atol=1e-5)
    again = render_pairs(scene, camera, 6, seed=5, sampling=sampling, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(again, (currents, goals, labels)))
    mixed = scene_pairs([scene, PlanarScene.load("skimage:coffee")], camera, 5, seed=5, progress=False)
    assert [array.shape[0] for array in mixed] == [5, 5, 5]


def test_the_pose_loss_is_the_translation_error_plus_the_weighted_rotation_error():
    estimate = torch.tensor([[0.03, 0.0, 0.04, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.1, 0.0]])
    assert PoseLoss(0.6)(estimate, torch.zeros(2, 6)).item() == pytest.approx((0.05 + 0.6 * 0.1) / 2)


# -- the training run ----------------------------------------------------------------------------

def test_a_tiny_run_learns_logs_checkpoints_resumes_and_writes_a_self_describing_model(tmp_path, tiny_run):
    first = tiny_run(tmp_path)
    train(first, command_line="aevs train --family siame (test)")
    rows = _log_rows(first)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert torch.load(Path(first.work_dir) / CHECKPOINT_NAME, weights_only=True)["epoch"] == 3

    result = train(tiny_run(tmp_path, epochs=4), resume=True, command_line="resumed")
    assert [row["epoch"] for row in _log_rows(first)] == ["1", "2", "3", "4"] and result.epochs == 4
    loaded = load_siame_model(result.model_path)
    metadata = loaded.metadata
    assert loaded.config.input_size == 32 and loaded.config.fusion_stage == 1
    assert metadata["family"] == "siame" and metadata["loss"] == "pose"
    assert metadata["val_loss"] == pytest.approx(result.val_loss) and metadata["command_line"] == "resumed"
    assert len(metadata["scene"]["fingerprint"]) == 12 and metadata["training_seconds"] > 0
    assert metadata["pair_sampling"]["screw_max_rotation_deg"] == 70.0
    assert metadata["validation"]["median_translation_error_mm"] > 0
    assert 0 < metadata["validation"]["median_relative_rotation_error"]
    assert Path(result.model_path).with_name("siame_train_log.csv").is_file()


def test_resuming_another_family_and_initialising_from_another_familys_model_are_refused(
        tmp_path, tiny_run, tiny_model_file):
    config = tiny_run(tmp_path, epochs=1)
    train(config)
    aevs = TrainConfig(train_images=120, val_images=30, epochs=2, batch_size=10, threads=1, input_size=32,
                       stage_channels=(4, 8, 8, 8), blocks_per_stage=1, latent_dim=8, progress=False,
                       out=str(tmp_path / "ae.pt"), work_dir=config.work_dir)
    with pytest.raises(ConfigurationError, match="family: 'siame' -> 'aevs'"):
        train(aevs, resume=True)
    with pytest.raises(Exception, match="not a Siame-se\\(3\\) model file"):
        train(tiny_run(tmp_path / "init", epochs=1, init=str(tiny_model_file)))
    tuned = train(tiny_run(tmp_path / "tuned", epochs=1, init=config.out, learning_rate=1e-12))
    before = load_siame_model(config.out).model.state_dict()
    after = load_siame_model(tuned.model_path).model.state_dict()
    assert all(torch.allclose(before[name], after[name], atol=1e-6) for name in before)


def test_settings_of_one_family_are_refused_for_the_other():
    with pytest.raises(ConfigurationError, match="latent_dim is a setting of aevs training"):
        TrainConfig(family="siame", latent_dim=16)
    with pytest.raises(ConfigurationError, match="loss is a setting of aevs training"):
        TrainConfig(family="siame", loss="bce")
    with pytest.raises(ConfigurationError, match="fusion_stage is a setting of siame training"):
        TrainConfig(fusion_stage=2)
    with pytest.raises(ConfigurationError, match="family must be one of aevs, siame"):
        TrainConfig(family="posenet")
    assert TrainConfig(family="siame").out == "models/siame_default.pt"
    assert TrainConfig().out == "models/aevs_default.pt"


def test_the_shipped_siame_preset_is_valid():
    settings = yaml.safe_load((REPOSITORY / "config" / "train_siame.yaml").read_text())
    config = TrainConfig(**settings)
    assert config.family == "siame" and config.input_size == 128 and config.out == "models/siame_default.pt"
    assert config.pair_sampling().min_visible_fraction == cases.MIN_VISIBLE_FRACTION
