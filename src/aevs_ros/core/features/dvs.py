"""Direct (photometric) visual servoing: the features are the pixel intensities themselves."""
from __future__ import annotations

import numpy as np

from ..photometric import check_image, interaction_planes
from .base import Feature, FeatureSample


class PhotometricFeature(Feature):
    """s = the interior pixels of I (the border, where gradients are invalid, is left out).

    L is float32 (the image's precision), written straight into the interior planes it is
    returned as: the largest array of the servo step is built once, in one place.
    """

    name = "dvs"

    @property
    def dim(self) -> int:
        h, w = self.camera.shape
        return (h - 2 * self.border) * (w - 2 * self.border)

    def compute(self, image: np.ndarray, with_interaction: bool = True) -> FeatureSample:
        image = check_image(image, self.camera.shape)
        interior = (slice(self.border, -self.border),) * 2
        s = image[interior].astype(np.float64).ravel()
        if not with_interaction:
            return FeatureSample(s, None)
        h, w = self.camera.shape
        planes = np.empty((6, h - 2 * self.border, w - 2 * self.border), np.float32)
        interaction_planes(image, self.camera, self.depth, self.border, planes)
        return FeatureSample(s, planes.reshape(6, -1).T)

    def reconstruct(self, s: np.ndarray) -> np.ndarray:
        h, w = self.camera.shape
        image = np.zeros((h, w), np.float32)
        image[self.border:h - self.border, self.border:w - self.border] = s.reshape(
            h - 2 * self.border, w - 2 * self.border)
        return image
