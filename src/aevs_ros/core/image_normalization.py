"""Photometric normalisation of the current image against the goal's, before the features.

Every feature family compares intensities with the goal's, so a light that got brighter or a
camera whose exposure changed shifts the error without any motion. Matching the current
image's statistics to the goal's removes a global gain and offset (``goal_statistics``) or
any monotonic intensity change (``histogram``) before the features see it.

Neither gives back what a brighter light clipped: the brightest pixels of the current image
sit at 1 with no texture left. So the servo, with a normalisation on, compares them with a goal
clipped alike (``clip_like``): the same share of its brightest pixels flattened.
"""
from __future__ import annotations

from enum import Enum

import numpy as np


#: a pixel at or above this is taken as clipped by the camera
SATURATED = 0.999
#: the share of clipped pixels below which an image counts as unclipped (and the change of it
#: that makes the servo clip the goal again)
SATURATION_STEP = 0.002


def saturated_fraction(image: np.ndarray) -> float:
    """The share of the image's pixels the camera clipped."""
    return float(np.mean(image >= SATURATED))


def clip_like(goal_image: np.ndarray, fraction: float) -> np.ndarray:
    """The goal image with its brightest ``fraction`` of pixels flattened to the intensity below
    them: what a camera that clipped that share of the view would have shot."""
    if fraction <= SATURATION_STEP:
        return goal_image
    return np.minimum(goal_image, np.quantile(goal_image, 1.0 - fraction)).astype(np.float32)


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
