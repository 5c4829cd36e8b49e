"""Photometric normalisation of the current image against the goal's, before the features.

Every feature family compares intensities with the goal's, so a light that got brighter or a
camera whose exposure changed shifts the error without any motion. Matching the current
image's statistics to the goal's removes a global gain and offset (``goal_statistics``) or
any monotonic intensity change (``histogram``) before the features see it.

Neither gives back what a brighter light clipped: the brightest pixels of the current image
sit at 1 with no texture left. So the servo, with a normalisation on, compares them with a goal
clipped alike (``clip_like``): the same share of its brightest pixels flattened.

Nor does either remove pixel noise, and a nonlinear encoder answers noise with a bias: the mean
latent vector of noisy views of the goal is not that of the clean goal. ``noise_sigma``
estimates the noise a view carries, so the servo can encode the goal with the same noise.
"""
from __future__ import annotations

from enum import Enum

import cv2
import numpy as np


#: a pixel at or above this is taken as clipped by the camera
SATURATED = 0.999
#: the share of clipped pixels below which an image counts as unclipped (and the change of it
#: that makes the servo clip the goal again)
SATURATION_STEP = 0.002
#: the weight of each view's clipped share in the running share the servo clips the goal at:
#: pixel noise makes the share of one view jitter by more than SATURATION_STEP
SATURATION_SMOOTHING = 0.25
#: a view's estimated noise sigma below which it counts as noise-free (a third of an 8-bit
#: grey level: what quantisation alone gives)
NOISE_FLOOR = 0.0013
#: the relative change of the estimated noise sigma that makes the servo encode the goal again
NOISE_STEP = 0.2
#: the share of the goal's own noise_energy under which a view's extra noise energy counts as 0:
#: a goal shot by the same noisy camera carries its noise already, and the views' energy moves
#: by a few per cent of it with their texture and their noise draw
NOISE_SHARE = 0.15


def saturated_fraction(image: np.ndarray) -> float:
    """The share of the image's pixels the camera clipped."""
    return float(np.mean(image >= SATURATED))


def clip_like(goal_image: np.ndarray, fraction: float) -> np.ndarray:
    """The goal image with its brightest ``fraction`` of pixels flattened to the intensity below
    them: what a camera that clipped that share of the view would have shot."""
    if fraction <= SATURATION_STEP:
        return goal_image
    return np.minimum(goal_image, np.quantile(goal_image, 1.0 - fraction)).astype(np.float32)


#: the second-difference kernel whose response to white noise of sigma s has variance 36 s^2,
#: and to a smooth image almost none (Immerkaer's noise estimator)
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_energy(image: np.ndarray) -> float:
    """The variance of the image's second-difference response over 36: sigma^2 for white noise
    of sigma on a smooth image, plus what the image's own fine texture adds."""
    response = cv2.filter2D(np.asarray(image, np.float32), -1, _NOISE_KERNEL)[1:-1, 1:-1]
    return float(np.mean(np.square(response, dtype=np.float64))) / 36.0


def noise_sigma(image: np.ndarray, clean_energy: float) -> float:
    """The standard deviation of the pixel noise ``image`` carries beyond a clean view of the
    same scene whose noise_energy is ``clean_energy`` (the goal image's)."""
    return float(np.sqrt(max(0.0, noise_energy(image) - clean_energy)))


def extra_noise_sigma(image: np.ndarray, goal_energy: float) -> float:
    """noise_sigma of ``image`` against a goal whose noise_energy is ``goal_energy``, 0 when it
    is too small to tell from the goal's own: under NOISE_FLOOR, or its square under NOISE_SHARE
    of the goal's energy."""
    sigma = noise_sigma(image, goal_energy)
    return sigma if sigma >= NOISE_FLOOR and sigma ** 2 >= NOISE_SHARE * goal_energy else 0.0


class Normalization(str, Enum):
    NONE = "none"
    GOAL_STATISTICS = "goal_statistics"  #: same mean and standard deviation as the goal image
    HISTOGRAM = "histogram"  #: same intensity histogram as the goal image

    def apply(self, image: np.ndarray, goal_image: np.ndarray, ignored: np.ndarray | None = None) -> np.ndarray:
        """``image`` matched to ``goal_image``, from the pixels outside ``ignored`` ((h, w) bool:
        the still pixels of an occluder fixed in the view, which the servo fills from the goal and
        whose intensities would skew the match) of both."""
        if self is Normalization.NONE:
            return image
        used = np.s_[:] if ignored is None else ~ignored
        values, goal_values = image[used], goal_image[used]
        if values.size < 2:
            return image
        if self is Normalization.GOAL_STATISTICS:
            spread = float(values.std())
            if spread < 1e-9:
                return image
            matched = (image - values.mean()) * (float(goal_values.std()) / spread) + float(goal_values.mean())
        else:
            from skimage.exposure import match_histograms

            matched = image.copy()
            matched[used] = match_histograms(values, goal_values)
        return np.clip(matched, 0.0, 1.0).astype(np.float32)
