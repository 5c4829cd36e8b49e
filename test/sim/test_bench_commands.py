"""`aevs bench`: sub-commands registered, fit-pca writes a loadable basis, latency its JSON."""
import json

import pytest

from aevs_ros.bench import config_overrides
from aevs_ros.cli import build_parser, main
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.features.pca import PCAFeature
from aevs_ros.core.servo import ServoConfig
from aevs_ros.core.network.model import load_model


def test_benchmarks_are_registered(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--help"])
    help_text = capsys.readouterr().out
    for name in ("fit-pca", "latency", "table1", "landscape", "sweep-latent", "sweep-depth", "sweep-loss", "difficulty"):
        assert name in help_text


def test_config_overrides_parse_by_field_type():
    assert config_overrides(ServoConfig, ["gain=20", "divergence_steps=0"]) == {"gain": 20.0,
                                                                                 "divergence_steps": 0}
    for bad in (["speed=1"], ["gain"], ["divergence_steps=1.5"]):
        with pytest.raises(ConfigurationError):
            config_overrides(ServoConfig, bad)


def test_fit_pca_writes_a_loadable_basis(tmp_path, capsys):
    path = tmp_path / "basis.npz"
    assert main(["bench", "fit-pca", "--out", str(path), "--images", "60", "--size", "32", "--dim", "8"]) == 0
    assert "explained variance" in capsys.readouterr().out
    basis = PCAFeature.load(path, default_camera(32))
    assert basis.dim == 8 and basis.scene_fingerprint


@pytest.mark.slow
def test_latency_writes_its_json(tmp_path):
    path = tmp_path / "latency.json"
    assert main(["bench", "latency", "--methods", "dvs,aevs", "--steps", "5", "--size", "32",
                 "--model", str(tmp_path / "missing.pt"), "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["threads"] == 1 and report["image_size"] == [32, 32]
    dvs = report["methods"]["dvs"]
    assert dvs["step_ms"]["median"] > 0 and dvs["step_ms"]["p95"] >= dvs["step_ms"]["median"]
    assert dvs["peak_rss_mb"] > 0
    assert "skipped" in report["methods"]["aevs"]


@pytest.mark.slow
def test_sweep_latent_trains_evaluates_and_reuses(tmp_path, capsys):
    arguments = ["bench", "sweep-latent", "--sizes", "6", "--input-size", "32", "--train-images", "40",
                 "--val-images", "10", "--epochs", "1", "--cases", "1", "--iterations", "5",
                 "--out", str(tmp_path)]
    assert main(arguments) == 0
    report = json.loads((tmp_path / "sweep_latent.json").read_text())
    assert report["sizes"] == [6] and set(report["results"]["6"]) == {"look_at", "screw"}
    assert (tmp_path / "sweep_latent.png").is_file()
    assert main(arguments) == 0
    assert "reusing" in capsys.readouterr().out


@pytest.mark.slow
def test_sweep_loss_trains_one_model_per_loss_and_seed_and_reports_the_spread(tmp_path):
    assert main(["bench", "sweep-loss", "--losses", "bce,dct", "--seeds", "3,1", "--input-size", "32",
                 "--train-images", "40", "--val-images", "10", "--epochs", "1", "--cases", "2",
                 "--tests", "look_at", "--iterations", "5", "--threads", "1", "--servo", "roll_aid=0",
                 "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sweep_loss.json").read_text())
    assert report["losses"] == ["bce", "dct"] and report["seeds"] == [3, 1]
    assert report["servo_config"]["roll_aid"] == 0.0
    assert list(report["results"]["bce"]) == ["3", "1"] and set(report["results"]["dct"]["1"]) == {"look_at"}
    models = {load_model(report["training"][loss][seed]["model"]).metadata["loss"]
              for loss in ("bce", "dct") for seed in ("3", "1")}
    assert models == {"bce", "dct"}
    spread = report["spread"]["dct"]["look_at"]
    rates = [report["results"]["dct"][seed]["look_at"]["converged_rate"] or 0.0 for seed in ("3", "1")]
    assert spread["rates"] == rates and spread["min"] == min(rates) and spread["max"] == max(rates)
    assert (tmp_path / "sweep_loss.png").is_file()


@pytest.mark.parametrize("flags", [["--losses", "mse"], ["--seeds", "-1"], ["--seeds", "a"]])
def test_sweep_loss_refuses_bad_choices(flags):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "sweep-loss", *flags])


@pytest.mark.slow
def test_sweep_depth_trains_one_model_per_depth_and_reports_after_each(tmp_path):
    assert main(["bench", "sweep-depth", "--depths", "4,1", "--input-size", "32", "--train-images", "40",
                 "--val-images", "10", "--epochs", "1", "--cases", "1", "--tests", "look_at", "--iterations", "5",
                 "--threads", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sweep_depth.json").read_text())
    assert report["depths"] == [1, 4] and list(report["results"]) == ["1", "4"]
    assert set(report["results"]["1"]) == {"look_at"} and report["evaluation_wall_s"]["4"] > 0
    assert load_model(report["training"]["1"]["model"]).config.active_blocks == 1
    assert (tmp_path / "sweep_depth.png").is_file()
