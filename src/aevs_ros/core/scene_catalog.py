"""Scenes that need no download: photographs and textures bundled with scikit-image.

A scene entry names one scene or a set of them:
  ``skimage:NAME``      one bundled image (``skimage:astronaut`` is the default poster);
  ``skimage:training``  the general model's training scenes;
  ``skimage:held-out``  the scenes no training, tuning or choice of the general model sees;
  a folder              every image file in it, in name order;
  a file                that image.

The split is fixed here, once: README "Scenes for a general model" shows it as a figure.
"""
from __future__ import annotations

from pathlib import Path

from .errors import SceneError

PREFIX = "skimage:"
#: Bundled image name -> file in scikit-image's data folder.
BUNDLED_FILES = {
    "astronaut": "astronaut.png", "brick": "brick.png", "camera": "camera.png", "cell": "cell.png",
    "chelsea": "chelsea.png", "coffee": "coffee.png", "coins": "coins.png", "grass": "grass.png",
    "gravel": "gravel.png", "hubble_deep_field": "hubble_deep_field.jpg", "ihc": "ihc.png",
    "moon": "moon.png", "motorcycle": "motorcycle_left.png", "rocket": "rocket.jpg",
}
TRAINING_SCENES = ("astronaut", "brick", "camera", "cell", "chelsea", "coins", "grass",
                   "hubble_deep_field", "ihc", "moon")
HELD_OUT_SCENES = ("coffee", "gravel", "motorcycle", "rocket")
SCENE_SETS = {"training": TRAINING_SCENES, "held-out": HELD_OUT_SCENES}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm")


def bundled_path(name: str) -> Path:
    """The file of a bundled scene in the installed scikit-image."""
    import skimage

    if name not in BUNDLED_FILES:
        raise SceneError(f"no bundled scene {name!r}; known: {', '.join(sorted(BUNDLED_FILES))}")
    return Path(skimage.__file__).parent / "data" / BUNDLED_FILES[name]


def expand(entry: str) -> list[str]:
    """The single-scene entries (``skimage:NAME`` or a file path) an entry stands for."""
    entry = str(entry)
    if entry.startswith(PREFIX):
        name = entry[len(PREFIX):]
        if name in SCENE_SETS:
            return [PREFIX + member for member in SCENE_SETS[name]]
        bundled_path(name)  # refuses unknown names
        return [entry]
    path = Path(entry).expanduser()
    if path.is_dir():
        files = sorted(str(child) for child in path.iterdir() if child.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SceneError(f"scene folder {path} holds no image file ({', '.join(IMAGE_SUFFIXES)})")
        return files
    return [entry]
