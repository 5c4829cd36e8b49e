"""A tiny training run end to end: checkpoint, CSV log, resume, self-describing model file."""
import argparse
import csv
from dataclasses import fields
from pathlib import Path

import pytest
import torch
import yaml

from aevs_ros.commands import train as train_command
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.scene import DEFAULT_SCENE_WIDTH_M
from aevs_ros.learning.config import BUNDLED_SCENE_WIDTH_M, TrainConfig
from aevs_ros.core.network.model import load_model
from aevs_ros.learning.train import CHECKPOINT_NAME, LOG_NAME, train

REPOSITORY = Path(__file__).resolve().parents[2]


def _tiny_config(tmp_path, **changes):
    settings = dict(train_images=40, val_images=10, epochs=1, batch_size=10, input_size=32,
                    latent_dim=8, stage_channels=(4, 8, 8, 8), blocks_per_stage=1, bf16=False,
                    threads=1, out=str(tmp_path / "model.pt"), work_dir=str(tmp_path / "work"),
                    progress=False)
    settings.update(changes)
    return TrainConfig(**settings)


def _log_rows(config):
    with open(Path(config.work_dir) / LOG_NAME) as stream:
        return list(csv.DictReader(stream))


def test_tiny_run_checkpoints_resumes_and_writes_a_self_describing_model(tmp_path):
    first = _tiny_config(tmp_path)
    train(first, command_line="aevs train (test)")
    assert (Path(first.work_dir) / CHECKPOINT_NAME).is_file()
    assert [row["epoch"] for row in _log_rows(first)] == ["1"]
    checkpoint = torch.load(Path(first.work_dir) / CHECKPOINT_NAME, weights_only=True)
    assert {"model", "optimizer", "shuffle_rng", "epoch"} <= set(checkpoint) and checkpoint["epoch"] == 1

    resumed = _tiny_config(tmp_path, epochs=2)
    result = train(resumed, resume=True, command_line="aevs train --resume (test)")
    assert [row["epoch"] for row in _log_rows(resumed)] == ["1", "2"]
    assert result.epochs == 2 and result.val_loss > 0

    loaded = load_model(result.model_path)
    metadata = loaded.metadata
    assert loaded.config.input_size == 32 and loaded.config.latent_dim == 8
    assert metadata["loss"] == "dct" and metadata["val_loss"] == pytest.approx(result.val_loss)
    assert metadata["command_line"] == "aevs train --resume (test)"
    assert metadata["scene"]["width_m"] == pytest.approx(0.8) and len(metadata["scene"]["fingerprint"]) == 12
    assert metadata["camera"]["width"] == 32 and metadata["training_seconds"] > 0
    assert Path(result.model_path).with_name("model_train_log.csv").is_file()


def test_resuming_with_other_training_settings_is_refused(tmp_path):
    train(_tiny_config(tmp_path))
    with pytest.raises(ConfigurationError, match="learning_rate"):
        train(_tiny_config(tmp_path, epochs=2, learning_rate=0.1), resume=True)
    with pytest.raises(Exception, match="no checkpoint"):
        train(_tiny_config(tmp_path / "elsewhere"), resume=True)


def test_a_checkpoint_from_before_a_setting_existed_resumes_with_that_settings_default(tmp_path):
    first = _tiny_config(tmp_path)
    train(first)
    path = Path(first.work_dir) / CHECKPOINT_NAME
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["train_config"]["active_blocks"]  # written before the field was added
    torch.save(checkpoint, path)
    assert train(_tiny_config(tmp_path, epochs=2), resume=True).epochs == 2
    with pytest.raises(ConfigurationError, match="active_blocks"):
        train(_tiny_config(tmp_path, epochs=3, active_blocks=1), resume=True)


def _parse(argv):
    parser = argparse.ArgumentParser()
    train_command.add_parser(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


def test_flags_override_the_yaml_file_which_overrides_the_defaults(tmp_path):
    config_file = tmp_path / "train.yaml"
    config_file.write_text("epochs: 7\nlatent_dim: 16\nstage_channels: [8, 16, 32, 64]\n")
    config = train_command.build_config(_parse(["--config", str(config_file), "--epochs", "3",
                                                "--no-bf16", "--scene", "poster.png"]))
    assert (config.epochs, config.latent_dim, config.stage_channels) == (3, 16, (8, 16, 32, 64))
    assert config.bf16 is False and config.scene == "poster.png"
    assert config.batch_size == TrainConfig().batch_size


def test_every_setting_is_a_flag_and_unknown_yaml_keys_are_errors(tmp_path):
    args = _parse([])
    assert {f.name for f in fields(TrainConfig)} <= set(vars(args))
    config_file = tmp_path / "bad.yaml"
    config_file.write_text("epochz: 3\n")
    with pytest.raises(ConfigurationError, match="unknown settings .* epochz"):
        train_command.build_config(_parse(["--config", str(config_file)]))


def test_the_shipped_config_is_valid():
    settings = yaml.safe_load((REPOSITORY / "config" / "train.yaml").read_text())
    config = TrainConfig(**settings)
    assert config.input_size == 128 and config.latent_dim == 32 and config.loss == "dct"
    assert config.stage_channels == (16, 32, 64, 128)
    assert BUNDLED_SCENE_WIDTH_M == DEFAULT_SCENE_WIDTH_M


def test_an_unreadable_scene_is_reported_without_a_traceback(tmp_path, capsys):
    broken = tmp_path / "scene.png"
    broken.write_text("not an image")
    args = _parse(["--scene", str(broken), "--train-images", "2", "--val-images", "1",
                   "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "m.pt")])
    assert train_command.run(args) == 2
    assert "aevs train: cannot read scene image" in capsys.readouterr().err


def test_several_scenes_share_the_views_and_are_each_recorded(tmp_path):
    config = _tiny_config(tmp_path, scene=["skimage:coffee", {"path": "skimage:rocket", "width_m": 0.5}])
    metadata = load_model(train(config).model_path).metadata
    assert [record["width_m"] for record in metadata["scenes"]] == [0.8, 0.5]
    assert [record["name"] for record in metadata["scenes"]] == ["skimage:coffee", "skimage:rocket"]
    assert metadata["scene"]["name"] == "2 scenes" and len(metadata["scene"]["fingerprint"]) == 12
    with pytest.raises(ConfigurationError, match="a scene is a path"):
        _tiny_config(tmp_path, scene=[{"file": "x.png"}])


def test_init_starts_from_the_given_models_weights_and_refuses_another_network(tmp_path):
    start = train(_tiny_config(tmp_path / "start")).model_path
    tuned = train(_tiny_config(tmp_path / "tuned", init=str(start), learning_rate=1e-12,
                               scene="skimage:coffee")).model_path
    before, after = load_model(start).model.state_dict(), load_model(tuned).model.state_dict()
    assert all(torch.allclose(before[name], after[name], atol=1e-6) for name in before)
    assert load_model(tuned).metadata["init"] == str(start)
    with pytest.raises(ConfigurationError, match="--init .* has the network"):
        train(_tiny_config(tmp_path / "other", init=str(start), latent_dim=4))


def test_the_scene_flag_repeats_and_one_scene_stays_a_single_path(tmp_path):
    assert train_command.build_config(_parse(["--scene", "a.png", "--scene", "skimage:coffee"])).scene == [
        "a.png", "skimage:coffee"]
    assert train_command.build_config(_parse(["--scene", "a.png"])).scene == "a.png"
    general = yaml.safe_load((REPOSITORY / "config" / "train_general.yaml").read_text())
    assert TrainConfig(**general).scene == "skimage:training"
