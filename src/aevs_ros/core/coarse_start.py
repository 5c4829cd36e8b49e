"""Coarse-to-fine start: servo on blurred copies of the goal and the views first, then on the
images themselves.

Blurring both alike keeps the features' meaning (the same feature family, the same law) but
smooths the cost: fine texture that a large motion scrambles no longer pulls the step aside,
at the price of precision. So the servo hands over to the sharp images once the blurred law
asks only for a small step.
"""
from __future__ import annotations

import cv2
import numpy as np

from .features.base import Feature
from .photometric import check_image

#: the coarse phase ends when the blurred law's step |v| / gain is below both [m], [rad]
HANDOVER_STEP = (5e-3, np.radians(0.5))
#: the coarse phase ends after this many steps whatever the law asks for
MAX_COARSE_STEPS = 300


class CoarseStart:
    """The goal's features on a Gaussian-blurred goal image, and the same blur for every view."""

    def __init__(self, feature: Feature, goal_image: np.ndarray, sigma: float, with_interaction: bool):
        self.sigma = sigma
        self.goal_image = self.blur(goal_image)  #: bound to the feature until the hand-over
        feature.bind_goal(self.goal_image)
        self.goal = feature.compute(self.goal_image, with_interaction=with_interaction)
        self.steps = 0  #: coarse-phase steps taken

    def blur(self, image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(check_image(image), (0, 0), self.sigma, borderType=cv2.BORDER_REPLICATE)

    def finished(self, step_translation: float, step_rotation: float) -> bool:
        """Count a coarse step; True when the phase is over (a small step asked for, or the budget)."""
        self.steps += 1
        return ((step_translation < HANDOVER_STEP[0] and step_rotation < HANDOVER_STEP[1])
                or self.steps >= MAX_COARSE_STEPS)
