"""Large-rotation aid: find how far the view is rolled from the goal, and turn that away first.

A rotation of the camera about its optical axis rotates the image about the principal point,
whatever the scene. So the goal image rotated by a grid of angles stands for every view a pure
roll can reach, without rendering anything. Matching the current image against those rotated
goals (also at a few scales: a camera moved along its axis sees a fronto-parallel scene scaled
about the principal point) gives the residual roll. :class:`RollAid` then turns the camera
about its optical axis until that roll is small and hands over to the servo's law, which
otherwise, from a large roll, trades the roll for tilt and slide (README, "Screw motions").

The match is a zero-mean normalised cross-correlation over a disc about the principal point
(a rotation brings the image corners into view, the disc stays inside it), on images reduced
to a small working size: cheap enough to run every step, and independent of the feature family.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .camera import PinholeCamera
from .photometric import check_image

#: side of the working images [px]; the estimate needs the image's coarse structure only
WORK_SIZE = 64
#: blur of the working images [working px]: smooths the match score between grid angles
WORK_BLUR_SIGMA = 1.0
#: the rotated goals: every ANGLE_STEP_DEG over the full turn, at these scales (current / goal)
ANGLE_STEP_DEG = 10.0
SCALES = tuple(np.geomspace(0.6, 2.0, 6))
#: the best grid match is then refined by a pattern search over angle and scale, halving its
#: steps (from half the grid's) this many times
REFINE_ROUNDS = 4
#: a match scoring below this is no evidence of a rotation (an unrelated or much-moved view)
MIN_SCORE = 0.9
#: the roll phase ends when the residual roll is below this [deg] (the law takes it from there)
HANDOVER_DEG = 2.0
#: the roll phase ends after this many steps whatever the estimate says
MAX_ROLL_STEPS = 300


@dataclass(frozen=True)
class RollEstimate:
    #: the goal image rotated by this angle (counter-clockwise on screen) about the principal
    #: point matches the view best: the camera is rolled by +angle about its optical axis
    angle_deg: float
    scale: float  #: the view's scale relative to the goal (> 1: closer)
    score: float  #: normalised cross-correlation of that match, in [-1, 1]


class RollEstimator:
    """Estimates the in-plane rotation between the goal image and a view of the same scene."""

    def __init__(self, goal_image: np.ndarray, camera: PinholeCamera):
        factor = WORK_SIZE / max(camera.width, camera.height)
        self._size = (max(8, round(camera.width * factor)), max(8, round(camera.height * factor)))
        work_camera = camera.scaled(*self._size)
        self._center = (work_camera.cx, work_camera.cy)
        radius = min(work_camera.cx, work_camera.cy, self._size[0] - 1 - work_camera.cx,
                     self._size[1] - 1 - work_camera.cy) - 1.0
        u, v = np.meshgrid(np.arange(self._size[0]) - work_camera.cx, np.arange(self._size[1]) - work_camera.cy)
        distance = np.hypot(u, v).ravel()
        goal = self._reduce(goal_image)
        self._goal, self._radius, self._distance = goal, radius, distance
        self.angles_deg = np.arange(-180.0, 180.0, ANGLE_STEP_DEG)
        self._scale_masks = self._masks(np.array(SCALES))
        grid_scales, grid_angles = np.meshgrid(SCALES, self.angles_deg, indexing="ij")
        self._templates = self._templates_at(grid_angles.ravel(), grid_scales.ravel())[0]

    def _templates_at(self, angles_deg: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The goal rotated and scaled about the principal point for each (angle, scale), zero-mean
        and unit-norm over its disc, and those discs: two (n, pixels) arrays (one remap for all)."""
        width, height = self._size
        u, v = np.meshgrid(np.arange(width, dtype=np.float32) - self._center[0],
                           np.arange(height, dtype=np.float32) - self._center[1])
        angles = np.radians(np.asarray(angles_deg, np.float32))[:, None, None]
        scales = np.asarray(scales, np.float32)[:, None, None]
        cos, sin = np.cos(angles) / scales, np.sin(angles) / scales
        # the inverse of cv2.getRotationMatrix2D's map: the goal pixel each template pixel shows
        # one row per template (OpenCV's maps are at most 32767 on a side)
        map_u = (cos * u - sin * v + self._center[0]).astype(np.float32).reshape(len(angles), -1)
        map_v = (sin * u + cos * v + self._center[1]).astype(np.float32).reshape(len(angles), -1)
        warped = cv2.remap(self._goal, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        masks = self._masks(scales.ravel())
        mean = (warped * masks).sum(axis=1, keepdims=True) / masks.sum(axis=1, keepdims=True)
        centred = (warped - mean) * masks
        norm = np.sqrt(np.einsum("ij,ij->i", centred, centred))[:, None]
        return centred / np.where(norm > 0, norm, 1.0), masks

    def _masks(self, scales: np.ndarray) -> np.ndarray:
        """(n, pixels): per scale, the disc of working pixels whose goal content a rotation by
        any angle keeps in view."""
        radii = self._radius * np.minimum(1.0, np.asarray(scales, np.float32))
        return (self._distance[None] <= radii.reshape(-1, 1)).astype(np.float32)

    def _reduce(self, image: np.ndarray) -> np.ndarray:
        small = cv2.resize(check_image(image), self._size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (0, 0), WORK_BLUR_SIGMA)

    @staticmethod
    def _spread(masks: np.ndarray, view: np.ndarray) -> np.ndarray:
        """The norm of the view minus its mean over each mask (the correlation's denominator)."""
        total = masks @ view
        energy = masks @ (view * view) - total * total / masks.sum(axis=-1)
        return np.sqrt(np.maximum(energy, 1e-12))

    def _grid_scores(self, view: np.ndarray) -> np.ndarray:
        """(scales, angles) normalised cross-correlation of the view with each rotated goal."""
        correlation = (self._templates @ view).reshape(len(SCALES), len(self.angles_deg))
        return correlation / self._spread(self._scale_masks, view)[:, None]

    def estimate(self, image: np.ndarray) -> RollEstimate:
        """The best grid match, refined by a pattern search in angle and scale."""
        view = self._reduce(image).ravel()
        scores = self._grid_scores(view)
        scale_index, angle_index = np.unravel_index(int(np.argmax(scores)), scores.shape)
        angle, log_scale, best = self.angles_deg[angle_index], np.log(SCALES[scale_index]), scores.max()
        angle_step, log_scale_step = ANGLE_STEP_DEG / 2, np.log(SCALES[1] / SCALES[0]) / 2
        for _ in range(REFINE_ROUNDS):
            candidates = [(angle + da * angle_step, log_scale + ds * log_scale_step)
                          for da, ds in ((-1, 0), (1, 0), (0, -1), (0, 1))]
            templates, masks = self._templates_at(*np.array([(a, np.exp(s)) for a, s in candidates]).T)
            trial = (templates @ view) / self._spread(masks, view)
            if trial.max() > best:
                best = float(trial.max())
                angle, log_scale = candidates[int(np.argmax(trial))]
            angle_step, log_scale_step = angle_step / 2, log_scale_step / 2
        return RollEstimate((angle + 180.0) % 360.0 - 180.0, float(np.exp(log_scale)), float(best))


class RollAid:
    """The roll phase at the start of a goal: turn about the optical axis until the view's roll
    from the goal is under HANDOVER_DEG, then hand over to the law for good.

    The phase starts only if the first view is rolled by more than ``threshold_deg`` and
    matches a rotated goal with confidence (score >= MIN_SCORE): a view that is not nearly a
    rotated copy of the goal (a large translation or tilt) is left to the law alone.
    """

    def __init__(self, goal_image: np.ndarray, camera: PinholeCamera, threshold_deg: float):
        self.estimator = RollEstimator(goal_image, camera)
        self.threshold_deg = threshold_deg
        self.active = True
        self.steps = 0  #: roll-phase steps taken

    def twist(self, image: np.ndarray, gain: float) -> np.ndarray | None:
        """The roll-only twist for this view (-gain x residual roll about z), or None when the
        phase is over; once None, always None."""
        if not self.active:
            return None
        estimate = self.estimator.estimate(image)
        limit = self.threshold_deg if self.steps == 0 else HANDOVER_DEG
        if estimate.score < MIN_SCORE or abs(estimate.angle_deg) < limit or self.steps >= MAX_ROLL_STEPS:
            self.active = False
            return None
        self.steps += 1
        twist = np.zeros(6)
        twist[5] = -gain * np.radians(estimate.angle_deg)
        return twist
