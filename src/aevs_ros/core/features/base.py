"""The one interface every feature family implements, ViSP-style: a feature owns s and L_s.

``Feature.compute(image)`` returns ``FeatureSample(s, L)`` with ``s`` of shape (k,) and ``L``
of shape (k, 6), columns [v, w] in the camera frame. Families that are mappings of the image
(PCA, DCT, the autoencoder) derive from ``ImageMapping`` and get ``L_s`` by the chain rule on
the photometric interaction matrix ``L_I``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..camera import PinholeCamera
from ..errors import ConfigurationError
from ..photometric import DEFAULT_BORDER, border_mask, check_image, photometric_interaction


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
    def compute(self, image: np.ndarray, with_interaction: bool = True) -> FeatureSample:
        """Features of ``image`` (float32 (h, w) in [0, 1]) and, if asked, their interaction matrix."""

    def reconstruct(self, s: np.ndarray) -> np.ndarray | None:
        """The image these features stand for, for debug displays; None if the family cannot invert."""
        return None

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

    def compute(self, image: np.ndarray, with_interaction: bool = True) -> FeatureSample:
        image = check_image(image, self.camera.shape)
        s = self.map(image)
        if not with_interaction:
            return FeatureSample(s, None)
        photometric = photometric_interaction(image, self.camera, self.depth, self.border)
        return FeatureSample(s, self.interaction(image, photometric, s))


FEATURE_FAMILIES = ("dvs", "pca", "dct", "aevs")


def model_input_shape(name: str, model_path) -> tuple[int, int] | None:
    """(h, w) of the images a learned family's model file takes; None for the other families.

    Raises ModelError if the file is missing or unreadable, so that a node refuses to start
    instead of faulting on every frame.
    """
    if name == "pca":
        from .pca import PCAFeature
        return PCAFeature.fitted_shape(model_path)
    if name == "aevs":
        from ...learning.model import load_model
        size = load_model(model_path).config.input_size
        return size, size
    return None


def make_feature(name: str, camera: PinholeCamera, depth: float = 0.6, *, model_path=None,
                 border: int = DEFAULT_BORDER, **options) -> Feature:
    """Build a feature family by name; ``model_path`` is the learned basis/network (pca, aevs)."""
    if name == "dvs":
        from .dvs import PhotometricFeature
        return PhotometricFeature(camera, depth, border)
    if name == "pca":
        from .pca import PCAFeature
        return PCAFeature.load(model_path, camera, depth, border=border, **options)
    if name == "dct":
        from .dct import DCTFeature
        return DCTFeature(camera, depth, border=border, **options)
    if name == "aevs":
        from .autoencoder import AutoencoderFeature
        return AutoencoderFeature(model_path, camera, depth, border=border, **options)
    raise ConfigurationError(f"unknown feature family {name!r}: choose one of {', '.join(FEATURE_FAMILIES)}")
