"""`aevs bench unseen-scenes` end to end on tiny models: every row's record, the fine-tuned model
trained from the general one and reused on a second run, and the training minutes of each row."""
import json

import pytest

from aevs_ros.cli import main
from aevs_ros.core.network.model import load_model
from aevs_ros.learning.config import TrainConfig
from aevs_ros.learning.train import train

TINY = dict(train_images=40, val_images=10, epochs=1, batch_size=10, input_size=32, latent_dim=8,
            stage_channels=(4, 8, 8, 8), blocks_per_stage=1, threads=1, progress=False)


@pytest.fixture(scope="module")
def general(tmp_path_factory):
    folder = tmp_path_factory.mktemp("general")
    model = train(TrainConfig(scene=["skimage:camera", "skimage:moon"], out=str(folder / "general.pt"),
                              work_dir=str(folder / "work"), **TINY)).model_path
    basis = folder / "pca.npz"
    assert main(["bench", "fit-pca", "--out", str(basis), "--images", "40", "--size", "32", "--dim", "6",
                 "--scene", "skimage:camera", "--scene", "skimage:moon"]) == 0
    per_scene = train(TrainConfig(scene="skimage:coffee", out=str(folder / "coffee.pt"),
                                  work_dir=str(folder / "work_coffee"), **TINY)).model_path
    return model, basis, per_scene


@pytest.mark.slow
def test_every_row_on_an_unseen_scene_with_its_training_cost(general, tmp_path, capsys):
    model, basis, per_scene = general
    arguments = ["bench", "unseen-scenes", "--scenes", "skimage:coffee", "--cases", "2", "--iterations", "5",
                 "--rows", "dvs,pca,aevs_general,aevs_finetuned,aevs_scene", "--general-model", str(model),
                 "--general-pca", str(basis), "--finetune-images", "20", "--finetune-epochs", "1",
                 "--per-scene-model", f"skimage:coffee={per_scene}", "--workers", "1", "--out", str(tmp_path)]
    assert main(arguments) == 0
    report = json.loads((tmp_path / "unseen_scenes.json").read_text())
    coffee = report["results"]["coffee"]
    assert list(coffee) == ["dvs", "pca", "aevs_general", "aevs_finetuned", "aevs_scene"]
    for row in coffee.values():
        assert row["look_at"]["cases"] + row["look_at"]["dropped"] == 2 and "converged_rate" in row["screw"]
    assert coffee["dvs"]["training_minutes"] is None and coffee["aevs_general"]["model"] == str(model)
    assert coffee["aevs_finetuned"]["training_minutes"] > 0 and coffee["aevs_scene"]["model"] == str(per_scene)
    tuned = load_model(coffee["aevs_finetuned"]["model"]).metadata
    assert tuned["init"] == str(model) and tuned["scene"]["name"] == "skimage:coffee"
    assert (tmp_path / "unseen_scenes.png").is_file() and (tmp_path / "scene_split.png").is_file() and "fine-tuned" in (tmp_path / "unseen_scenes.md").read_text()
    capsys.readouterr()
    assert main(arguments) == 0
    assert "coffee fine-tuned: reusing" in capsys.readouterr().out
    without = [argument for argument in arguments if not argument.startswith("skimage:coffee=")]
    without.remove("--per-scene-model")
    assert main([*without, "--no-train-per-scene"]) == 0
    assert "aevs_scene" not in json.loads((tmp_path / "unseen_scenes.json").read_text())["results"]["coffee"]


def test_a_missing_general_model_is_one_clear_error(tmp_path, capsys):
    assert main(["bench", "unseen-scenes", "--general-model", str(tmp_path / "none.pt"),
                 "--out", str(tmp_path)]) == 2
    assert "none.pt not found (aevs train --config config/train_general.yaml" in capsys.readouterr().out
