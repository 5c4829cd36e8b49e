"""The bundled scenes and the general model's split (core/scene_catalog.py)."""
import cv2
import numpy as np
import pytest

from aevs_ros.core import scene_catalog
from aevs_ros.core.errors import SceneError
from aevs_ros.core.scene import PlanarScene


def test_the_split_is_disjoint_and_holds_out_at_least_four_scenes():
    training, held_out = set(scene_catalog.TRAINING_SCENES), set(scene_catalog.HELD_OUT_SCENES)
    assert not training & held_out and len(held_out) >= 4 and len(training) >= 8
    assert training | held_out <= set(scene_catalog.BUNDLED_FILES)


@pytest.mark.parametrize("name", sorted(scene_catalog.BUNDLED_FILES))
def test_every_bundled_scene_loads_without_a_download(name):
    scene = PlanarScene.load(scene_catalog.PREFIX + name)
    assert min(scene.image.shape) >= 256 and scene.image.std() > 0.03


def test_the_bundled_astronaut_is_the_default_scene():
    assert PlanarScene.load("skimage:astronaut").fingerprint == PlanarScene.load(None).fingerprint


def test_sets_and_folders_expand_and_unknown_names_are_refused(tmp_path):
    assert scene_catalog.expand("skimage:held-out") == [
        "skimage:" + name for name in scene_catalog.HELD_OUT_SCENES]
    assert scene_catalog.expand("skimage:coffee") == ["skimage:coffee"]
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), np.zeros((16, 16), np.uint8))
    (tmp_path / "notes.txt").write_text("not a scene")
    assert scene_catalog.expand(str(tmp_path)) == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SceneError, match="no image file"):
        scene_catalog.expand(str(tmp_path / "empty"))
    with pytest.raises(SceneError, match="no bundled scene 'kitten'"):
        scene_catalog.expand("skimage:kitten")
    with pytest.raises(SceneError, match="no bundled scene"):
        PlanarScene.load("skimage:kitten")
