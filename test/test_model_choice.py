"""Which shipped model a learned family uses when none is named (resources.choose_model), in
aevs demo and in the sim graph: the per-scene model on its own scene, the general one elsewhere."""
import shutil

import pytest

from aevs_ros import graph, resources
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.config import TrainConfig
from aevs_ros.learning.train import train

TINY = dict(train_images=20, val_images=10, epochs=1, batch_size=10, input_size=32, latent_dim=8,
            stage_channels=(4, 8, 8, 8), blocks_per_stage=1, threads=1, progress=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    per_scene = train(TrainConfig(out=str(folder / "aevs_default.pt"), work_dir=str(folder / "w1"), **TINY))
    general = train(TrainConfig(scene=["skimage:camera", "skimage:moon"], out=str(folder / "aevs_general.pt"),
                                work_dir=str(folder / "w2"), **TINY))
    return per_scene.model_path, general.model_path


def _share(tmp_path, monkeypatch, *files):
    (tmp_path / "models").mkdir()
    for file in files:
        shutil.copy(file, tmp_path / "models")
    monkeypatch.setattr(resources, "share_dir", lambda: tmp_path)


def test_the_per_scene_model_on_its_scene_and_the_general_one_elsewhere(models, tmp_path, monkeypatch):
    _share(tmp_path, monkeypatch, *models)
    default = PlanarScene.load(None).fingerprint
    mine = resources.choose_model("aevs", default)
    assert mine.path.name == "aevs_default.pt" and "the scene it was trained on" in mine.reason
    other = resources.choose_model("aevs", PlanarScene.load("skimage:coffee").fingerprint)
    assert other.path.name == "aevs_general.pt" and "is not the one aevs_default.pt was trained on" in other.reason
    unknown = resources.choose_model("aevs", None)
    assert unknown.path.name == "aevs_general.pt" and "unknown fingerprint (a real camera)" in unknown.reason
    assert resources.choose_model("dvs", default).path is None
    assert unknown.record() == {"model": str(unknown.path), "model_choice": unknown.reason}


def test_without_a_general_model_the_per_scene_one_is_used_everywhere(models, tmp_path, monkeypatch):
    _share(tmp_path, monkeypatch, models[0])
    choice = resources.choose_model("aevs", None)
    assert choice.path.name == "aevs_default.pt" and "no general model installed" in choice.reason


def test_the_sim_graph_names_the_chosen_model_and_tells_the_scenario_why(models, tmp_path, monkeypatch):
    _share(tmp_path, monkeypatch, *models)

    def parameters(nodes, name):
        return next(node.parameters for node in nodes if node.executable == name)

    on_default = graph.build_graph("sim", method="aevs")
    assert parameters(on_default, "servo_node")["model_path"].endswith("aevs_default.pt")
    on_coffee = graph.build_graph("sim", method="aevs", scene="skimage:coffee")
    assert parameters(on_coffee, "servo_node")["model_path"].endswith("aevs_general.pt")
    assert "aevs_general.pt: scene" in parameters(on_coffee, "sim_scenario")["model_choice"]
    named = graph.build_graph("sim", method="aevs", model=str(models[1]))
    assert parameters(named, "servo_node")["model_path"] == str(models[1])
    assert "model_choice" not in parameters(named, "sim_scenario")
    assert "model_path" not in parameters(graph.build_graph("sim", method="dvs"), "servo_node")
