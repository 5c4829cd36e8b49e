"""Direct (photometric) visual servoing: the features are the pixel intensities themselves."""
from __future__ import annotations

import cv2
import numpy as np

from ..control import tukey_weights
from ..photometric import MIN_BORDER, check_image, interaction_planes
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

    def compute(self, image: np.ndarray, with_interaction: bool = True,
                still_pixels: np.ndarray | None = None) -> FeatureSample:
        image = check_image(image, self.camera.shape)
        interior = (slice(self.border, -self.border),) * 2
        s = image[interior].astype(np.float64).ravel()
        if not with_interaction:
            return FeatureSample(s, None)
        h, w = self.camera.shape
        planes = np.empty((6, h - 2 * self.border, w - 2 * self.border), np.float32)
        interaction_planes(image, self.camera, self.depth, self.border, planes)
        if still_pixels is not None:
            planes[:, still_pixels[interior]] = 0.0
        return FeatureSample(s, planes.reshape(6, -1).T)

    def reconstruct(self, s: np.ndarray) -> np.ndarray:
        h, w = self.camera.shape
        image = np.zeros((h, w), np.float32)
        image[self.border:h - self.border, self.border:w - self.border] = s.reshape(
            h - 2 * self.border, w - 2 * self.border)
        return image

    def error_weights(self, error: np.ndarray) -> np.ndarray:
        """Tukey weights, also zero within the derivative filter's reach of an outlier pixel:
        the gradient there, hence its row of L, mixes in the occluder's or highlight's edge."""
        h, w = self.camera.shape
        weights = tukey_weights(error).reshape(h - 2 * self.border, w - 2 * self.border)
        outliers = (weights == 0).astype(np.uint8)
        reach = cv2.dilate(outliers, np.ones((2 * MIN_BORDER + 1,) * 2, np.uint8)).astype(bool)
        return np.where(reach, 0.0, weights).ravel()
