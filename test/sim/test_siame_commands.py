"""The siame family in the commands that list families: `aevs demo --method siame`, `aevs bench
table1 / latency / landscape` with it, and the "model file is missing" skip, on a tiny network."""
import json
import shutil

import pytest
import torch

from aevs_ros import resources
from aevs_ros.bench import METHODS, parse_methods
from aevs_ros.bench.landscape import cost_grids
from aevs_ros.cli import main
from aevs_ros.core.camera import default_camera
from aevs_ros.core.features import make_feature
from aevs_ros.core.network.config import SiameConfig
from aevs_ros.core.network.siame import SiamesePoseNetwork, save_siame_model
from aevs_ros.core.scene import PlanarScene


@pytest.fixture(scope="module")
def tiny_siame_file(tmp_path_factory):
    torch.manual_seed(0)
    network = SiamesePoseNetwork(SiameConfig(input_size=32, stage_channels=(4, 8, 8, 8), blocks_per_stage=1,
                                             head_width=16))
    path = tmp_path_factory.mktemp("models") / "siame.pt"
    save_siame_model(path, network.eval(), {"family": "siame"})
    return path


@pytest.fixture
def no_shipped_models(tmp_path, monkeypatch):
    """A share directory without models/: every learned family is uninstalled."""
    monkeypatch.setattr(resources, "share_dir", lambda: tmp_path)


def test_siame_is_a_method_of_every_benchmark():
    assert "siame" in METHODS and parse_methods("dvs,siame") == ["dvs", "siame"]


def test_the_shipped_siame_model_is_chosen_on_any_scene(tmp_path, monkeypatch, tiny_siame_file):
    (tmp_path / "models").mkdir()
    shutil.copy(tiny_siame_file, tmp_path / "models" / "siame_default.pt")
    monkeypatch.setattr(resources, "share_dir", lambda: tmp_path)
    choice = resources.choose_model("siame", PlanarScene.load("skimage:coffee").fingerprint)
    assert choice.path.name == "siame_default.pt" and "no general model installed" in choice.reason


def test_demo_servoes_with_a_given_siame_model(tmp_path, tiny_siame_file):
    out = tmp_path / "demo.json"
    code = main(["demo", "--method", "siame", "--model", str(tiny_siame_file), "--iterations", "3",
                 "--json", str(out), "--plot", ""])
    assert code in (0, 1)  # an untrained network: converged or not, the run completes
    outcome = json.loads(out.read_text())
    assert outcome["method"] == "siame" and outcome["model"] == str(tiny_siame_file)


def test_demo_without_a_siame_model_says_so(tmp_path, no_shipped_models, capsys):
    code = main(["demo", "--method", "siame", "--json", str(tmp_path / "o.json"), "--plot", ""])
    assert code == 2
    assert "model file not found" in capsys.readouterr().err


def test_latency_skips_siame_without_its_model(tmp_path, no_shipped_models):
    path = tmp_path / "latency.json"
    assert main(["bench", "latency", "--methods", "siame", "--steps", "2", "--size", "32",
                 "--json", str(path)]) == 0
    assert "no siame model file" in json.loads(path.read_text())["methods"]["siame"]["skipped"]


def test_the_landscape_binds_the_goal_before_it_compares_views(tiny_siame_file):
    camera = default_camera(32)
    feature = make_feature("siame", camera, 0.6, model_path=tiny_siame_file)
    grid = cost_grids(PlanarScene.load(None), camera, {"siame": feature}, [-0.02, 0.0, 0.02])["siame"]
    assert grid.shape == (3, 3) and grid[1, 1] == pytest.approx(0.0, abs=1e-10)


@pytest.mark.slow
def test_table1_runs_siame_next_to_dvs(tmp_path, tiny_siame_file):
    code = main(["bench", "table1", "--cases", "1", "--methods", "dvs,siame", "--siame", str(tiny_siame_file),
                 "--iterations", "3", "--size", "32", "--workers", "1", "--no-examples", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "table1.json").read_text())
    assert report["models"]["siame"] == str(tiny_siame_file)
    assert {record["method"] for record in report["records"]} == {"dvs", "siame"}
