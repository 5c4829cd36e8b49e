"""Pixels that stay put while the camera moves: something fixed to the camera hides the scene there.

An eye-in-hand camera often sees part of its own tool, a cable or a bracket. These stay on the
same pixels whatever the camera does, so no motion makes them look like the goal. Every global
feature (the PCA projection, the DCT, the autoencoder's code) then carries their difference from
the goal at every pose, and the servo settles where that offset balances, centimetres away.

``StaticOcclusion`` finds them as the pixels that never changed since the servo started while
most of the view did, and the servo gives them the goal image's values before the features
(``fill_from_goal``) and no rows in L_I (``Feature.compute(still_pixels=...)``, they do not
move with the camera): at the goal pose the view is then the goal again, and on the way there
those pixels pull nowhere. Something that moves across the view changes its pixels and is not
found.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

#: [px] Gaussian sigma of the smoothing before the comparison, so that pixel noise is no change
SMOOTHING_SIGMA = 1.5
#: a smoothed pixel has changed once it moved this far from its value in the first view
CHANGE_THRESHOLD = 0.03
#: [px] the mask grows by this much: the smoothing blends the scene around an occluder into
#: its rim, which then changes too
RIM = 3
#: the still pixels are trusted only once this share of the view has changed, and the changed
#: share grew by less than SETTLED_GROWTH over the last SETTLED_FRAMES views: before, a pixel may
#: be still only because the camera has not moved far enough yet
TRUSTED_CHANGED_SHARE = 0.5
SETTLED_GROWTH = 0.06
SETTLED_FRAMES = 5
#: still regions smaller than this share of the view are scene (a patch of even texture), not
#: an occluder: they are dropped (an opening of OPENING px first cuts their thin links)
MIN_REGION_SHARE = 0.01
OPENING = 5


def _smoothed(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), SMOOTHING_SIGMA)


class StaticOcclusion:
    """The pixels no camera motion has changed so far, from the views of one servo run."""

    def __init__(self):
        self._reference: np.ndarray | None = None
        self._changed: np.ndarray | None = None
        self._shares: deque[float] = deque(maxlen=SETTLED_FRAMES + 1)  #: the latest changed shares
        self._trusted = False

    def update(self, image: np.ndarray) -> np.ndarray | None:
        """Take the next view; the mask of the still pixels once it can be trusted, else None."""
        smoothed = _smoothed(image)
        if self._reference is None or self._reference.shape != smoothed.shape:  # a first (or resized) view
            self._reference, self._changed = smoothed, np.zeros(smoothed.shape, bool)
            self._shares.clear()
            self._trusted = False
            return None
        self._changed |= np.abs(smoothed - self._reference) > CHANGE_THRESHOLD
        share = float(self._changed.mean())
        self._shares.append(share)
        if not self._trusted:
            settled = len(self._shares) > SETTLED_FRAMES and share - self._shares[0] < SETTLED_GROWTH
            self._trusted = share >= TRUSTED_CHANGED_SHARE and settled
            if not self._trusted:
                return None
        return _occluder_regions(~self._changed)


def _occluder_regions(still: np.ndarray) -> np.ndarray | None:
    """The large still regions of ``still`` with their rim, None if there are none."""
    still = cv2.morphologyEx(still.astype(np.uint8), cv2.MORPH_OPEN, np.ones((OPENING, OPENING), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(still, connectivity=4)
    large = [label for label in range(1, count) if stats[label, cv2.CC_STAT_AREA] >= MIN_REGION_SHARE * still.size]
    if not large:
        return None
    regions = np.isin(labels, large).astype(np.uint8)
    return cv2.dilate(regions, np.ones((2 * RIM + 1, 2 * RIM + 1), np.uint8)).astype(bool)


def fill_from_goal(image: np.ndarray, mask: np.ndarray | None, goal_image: np.ndarray) -> np.ndarray:
    """``image`` with the goal image's pixels where ``mask`` is set: what the view would show
    there at the goal pose without the occluder."""
    if mask is None:
        return image
    return np.where(mask, goal_image, image).astype(np.float32, copy=False)
