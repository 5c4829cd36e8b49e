"""The feature-family registry: every entry builds its family, and reading it stays cheap."""
import subprocess
import sys

import numpy as np
import pytest

from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError, ModelError
from aevs_ros.core.features import FEATURE_FAMILIES, make_feature
from aevs_ros.core.features.base import Feature
from aevs_ros.core.features.registry import FAMILIES, LEARNED_FAMILIES, family, model_input_shape
from aevs_ros.resources import default_model_path


@pytest.mark.parametrize('name', FEATURE_FAMILIES)
def test_every_entry_names_a_feature_class_of_that_name(name):
    feature_class = family(name).feature_class()
    assert issubclass(feature_class, Feature)
    assert feature_class.name == name


@pytest.mark.parametrize('name', LEARNED_FAMILIES)
def test_every_learned_family_ships_its_model_and_builds_at_its_input_size(name):
    path = default_model_path(name)
    assert path is not None and path.is_file(), f'{FAMILIES[name].default_model} is missing'
    height, width = model_input_shape(name, path)
    feature = make_feature(name, default_camera(width, height), 0.6, model_path=path)
    assert feature.camera.shape == (height, width) and feature.dim >= 6
    with pytest.raises(ModelError):
        model_input_shape(name, '/no/such/model')


@pytest.mark.parametrize('name', sorted(set(FEATURE_FAMILIES) - set(LEARNED_FAMILIES)))
def test_families_without_a_model_build_from_the_camera_alone(name):
    camera = default_camera(32)
    assert model_input_shape(name, None) is None
    feature = make_feature(name, camera, 0.6)
    image = np.random.default_rng(0).random(camera.shape, dtype=np.float32)
    sample = feature.compute(image)
    assert sample.s.shape == (feature.dim,) and sample.L.shape == (feature.dim, 6)


def test_an_unknown_family_names_the_choices():
    with pytest.raises(ConfigurationError, match=f"choose one of {', '.join(FEATURE_FAMILIES)}"):
        family('sift')


def test_reading_the_registry_imports_no_family():
    """The command line reads it on every call: no numpy, OpenCV or torch behind it."""
    code = ('import sys, aevs_ros.core.features.registry; '
            'print(sorted(m for m in ("numpy", "cv2", "torch", "aevs_ros.core.features.base") if m in sys.modules))')
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == '[]'
