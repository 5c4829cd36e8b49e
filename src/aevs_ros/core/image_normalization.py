"""Photometric normalisation of the current image against the goal's, before the features.

Every feature family compares intensities with the goal's, so a light that got brighter or a
camera whose exposure changed shifts the error without any motion. Matching the current
image's statistics to the goal's removes a global gain and offset (``goal_statistics``) or
any monotonic intensity change (``histogram``) before the features see it.
"""
from __future__ import annotations

from enum import Enum

import numpy as np


class Normalization(str, Enum):
    NONE = "none"
    GOAL_STATISTICS = "goal_statistics"  #: same mean and standard deviation as the goal image
    HISTOGRAM = "histogram"  #: same intensity histogram as the goal image

    def apply(self, image: np.ndarray, goal_image: np.ndarray) -> np.ndarray:
        if self is Normalization.NONE:
            return image
        if self is Normalization.GOAL_STATISTICS:
            spread = float(image.std())
            if spread < 1e-9:
                return image
            matched = (image - image.mean()) * (float(goal_image.std()) / spread) + float(goal_image.mean())
        else:
            from skimage.exposure import match_histograms

            matched = match_histograms(image, goal_image)
        return np.clip(matched, 0.0, 1.0).astype(np.float32)
