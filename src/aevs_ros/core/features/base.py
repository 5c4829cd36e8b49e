"""The one interface every feature family implements, ViSP-style: a feature owns s and L_s.

``Feature.compute(image)`` returns ``FeatureSample(s, L)`` with ``s`` of shape (k,) and ``L``
of shape (k, 6), columns [v, w] in the camera frame. Families that are mappings of the image
(PCA, DCT, the autoencoder) derive from ``ImageMapping`` and get ``L_s`` by the chain rule on
the photometric interaction matrix ``L_I``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import PinholeCamera
from ..errors import ConfigurationError, InvalidImageError, ModelError
from ..photometric import DEFAULT_BORDER, border_mask, check_image, photometric_interaction

#: Fewer features than degrees of freedom leave some camera motion unobservable.
MIN_DIM = 6


@dataclass
class FeatureSample:
    s: np.ndarray  #: (k,) feature vector
    L: np.ndarray | None  #: (k, 6) interaction matrix, None when not asked for


class Feature(ABC):
    """A feature family bound to one camera (image size and intrinsics) and scene depth."""

    name: str = "feature"

    def __init__(self, camera: PinholeCamera, depth: float = 0.6, border: int = DEFAULT_BORDER):
        if not depth > 0:
            raise ConfigurationError(f"scene depth must be positive, got {depth}")
        border_mask(camera.shape, border)  # raises if the border is too thin or leaves nothing
        self.camera = camera
        self.depth = depth
        self.border = border

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of features k."""

    @abstractmethod
    def compute(self, image: np.ndarray, with_interaction: bool = True,
                still_pixels: np.ndarray | None = None) -> FeatureSample:
        """Features of ``image`` (float32 (h, w) in [0, 1]) and, if asked, their interaction matrix.
        ``still_pixels`` ((h, w) bool) do not move with the camera (core.static_occlusion): their
        rows of L_I are zero."""

    def bind_goal(self, image: np.ndarray) -> None:
        """Take ``image`` as the view the features of later images compare with. The servo calls
        it with the goal image before it computes s*; a no-op for families whose s is a function
        of the image alone (all but siame, whose s is the pose relative to the goal)."""

    def reconstruct(self, s: np.ndarray) -> np.ndarray | None:
        """The image these features stand for, for debug displays; None if the family cannot invert."""
        return None

    @classmethod
    def build(cls, camera: PinholeCamera, depth: float = 0.6, *, model_path=None,
              border: int = DEFAULT_BORDER, **options) -> "Feature":
        """The family for ``camera`` (registry.make_feature calls this); a family that reads a
        model file overrides it to load ``model_path``."""
        return cls(camera, depth, border, **options)

    @staticmethod
    def model_input_shape(model_path) -> tuple[int, int] | None:
        """(h, w) of the images the model file at ``model_path`` takes (families that read one);
        ModelError if it is missing or unreadable."""
        return None

    @staticmethod
    def model_scene_fingerprint(model_path) -> str:
        """Fingerprint of the one scene the model file was trained on ('' if it was trained on
        several or does not say); ModelError if it is missing or unreadable."""
        return ""

    def error_weights(self, error: np.ndarray) -> np.ndarray:
        """Robust weights in [0, 1] of the errors s - s* (ServoConfig.robust). All ones here:
        an M-estimator needs many features each seeing a small part of the image (the pixels of
        DVS), not a few global ones, whose large errors far from the goal are the signal."""
        return np.ones_like(error)


class ImageMapping(Feature):
    """A feature s = f(I) whose interaction matrix is (df/dI) L_I."""

    @abstractmethod
    def map(self, image: np.ndarray) -> np.ndarray:
        """s = f(I)."""

    @abstractmethod
    def interaction(self, image: np.ndarray, photometric: np.ndarray, s: np.ndarray) -> np.ndarray:
        """L_s from the image, its L_I (h*w, 6) and s."""

    def compute(self, image: np.ndarray, with_interaction: bool = True,
                still_pixels: np.ndarray | None = None) -> FeatureSample:
        image = check_image(image, self.camera.shape)
        s = self.map(image)
        if not with_interaction:
            return FeatureSample(s, None)
        photometric = photometric_interaction(image, self.camera, self.depth, self.border)
        return FeatureSample(s, self.interaction(image, without_still(photometric, still_pixels), s))


def without_still(photometric: np.ndarray, still_pixels: np.ndarray | None) -> np.ndarray:
    """L_I (h*w, 6) with the rows of ``still_pixels`` zeroed, in place."""
    if still_pixels is not None:
        photometric[still_pixels.ravel()] = 0.0
    return photometric


def check_dim(dim: int, available: int, what: str) -> int:
    """``dim`` as an int, or ConfigurationError if it cannot control 6 DOF or exceeds ``available``."""
    if int(dim) != dim or not MIN_DIM <= dim <= available:
        raise ConfigurationError(
            f"{what} dimension must be an integer in [{MIN_DIM}, {available}], got {dim}")
    return int(dim)


def check_network_camera(kind: str, model_path, input_size: int, camera: PinholeCamera) -> None:
    """ModelError unless the camera gives the square images of ``input_size`` a network's model
    file takes (``kind`` names it: "AEVS", "Siame-se(3)")."""
    if camera.shape != (input_size, input_size):
        raise ModelError(f"the {kind} model {model_path} takes {input_size}x{input_size} images but the camera "
                         f"gives {camera.width}x{camera.height}: resize the camera or retrain with --input-size")


def check_network_image(kind: str, model_path: Path, image, camera: PinholeCamera) -> np.ndarray:
    """``image`` as a network takes it; InvalidImageError naming both sizes if it is not the camera's."""
    if getattr(image, "shape", None) != camera.shape:
        height, width = camera.shape
        raise InvalidImageError(f"the {kind} model {model_path.name} takes {width}x{height} images, got "
                                f"{'x'.join(str(n) for n in reversed(np.shape(image)))}")
    return check_image(image, camera.shape)


def single_scene_fingerprint(metadata: dict) -> str:
    """The fingerprint of the one scene a network's model file was trained on; '' if it was
    trained on several ("scenes") or does not say."""
    if len(metadata.get("scenes", [None])) != 1:
        return ""
    return str(metadata.get("scene", {}).get("fingerprint", ""))
