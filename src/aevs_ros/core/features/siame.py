"""Siame-se(3) features: the pose of the current camera relative to the goal's, as a network
regresses it from the two images, and the interaction matrix of a position-based servo.

s = (c*t_c, θu) is the pose of the current camera in the goal camera's frame (Felton et al.,
ICRA 2021; the Siame-se(3) baseline of the paper's Table I). With the camera twist [v, w] in
the current camera's frame, d(c*t_c)/dt = c*R_c v and d(θu)/dt = J(θu) w, so

    L_s = [[c*R_c, 0], [0, J(θu)]],   J(θu) = I + [θu]/2 + (1 - (θ/2) cot(θ/2)) / θ² [θu]²

(Chaumette & Hutchinson 2006, Sec. 5.1, for s = (c*t_c, θu); se3.rotation_vector_rate), with
R and θu read from the estimate s itself. L_s is invertible (det J > 0 for θ < 2π), so the
servo's Levenberg-Marquardt law on e = s - s* is a PBVS law, and it needs no scene depth.
s* is the network's estimate for the goal image against itself, about 0: subtracting it
removes the network's bias at the goal.

The features need the goal image: the servo hands it over with :meth:`bind_goal` before it
computes s*, and the goal's feature map (core/network/siame.py) is kept, so each step runs the
Siamese layers on the current image only, then the fused ones.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from .. import se3
from ..camera import PinholeCamera
from ..errors import AevsError
from ..network.siame import POSE_DIM, load_siame_model
from ..photometric import DEFAULT_BORDER
from .base import (Feature, FeatureSample, check_network_camera, check_network_image,
                   single_scene_fingerprint)


def pose_interaction(pose: np.ndarray) -> np.ndarray:
    """L (6, 6) of s = (c*t_c, θu) at ``pose`` = s, columns [v, w] in the current camera frame."""
    pose = np.asarray(pose, dtype=float)
    interaction = np.zeros((POSE_DIM, 6))
    interaction[:3, :3] = Rotation.from_rotvec(pose[3:]).as_matrix()
    interaction[3:, 3:] = se3.rotation_vector_rate(pose[3:])
    return interaction


class SiameFeature(Feature):
    """Servo on the relative pose a Siamese network regresses from the current and goal images."""

    name = "siame"

    def __init__(self, model_path: str | Path | None, camera: PinholeCamera, depth: float = 0.6,
                 border: int = DEFAULT_BORDER):
        super().__init__(camera, depth, border)
        loaded = load_siame_model(model_path)
        check_network_camera("Siame-se(3)", model_path, loaded.config.input_size, camera)
        self.model_path = Path(model_path)
        self.metadata = loaded.metadata
        self._network = loaded.model
        self._goal_map: torch.Tensor | None = None

    @classmethod
    def build(cls, camera: PinholeCamera, depth: float = 0.6, *, model_path=None,
              border: int = DEFAULT_BORDER, **options) -> "SiameFeature":
        return cls(model_path, camera, depth, border=border, **options)

    @staticmethod
    def model_input_shape(model_path: str | Path | None) -> tuple[int, int]:
        size = load_siame_model(model_path).config.input_size
        return size, size

    @staticmethod
    def model_scene_fingerprint(model_path: str | Path | None) -> str:
        """The training scene's fingerprint ('' for a model of several scenes)."""
        return single_scene_fingerprint(load_siame_model(model_path).metadata)

    @property
    def dim(self) -> int:
        return POSE_DIM

    def bind_goal(self, image: np.ndarray) -> None:
        """Compare every later image with ``image``: its feature map is kept (InvalidImageError,
        and the previous goal kept, if the image is unusable)."""
        self._goal_map = self._embed(image)

    def compute(self, image: np.ndarray, with_interaction: bool = True,
                still_pixels: np.ndarray | None = None) -> FeatureSample:
        """The relative pose; ``still_pixels`` is unused (L is the pose's, not the image's)."""
        if self._goal_map is None:
            raise AevsError("siame features compare a view with the goal image: bind_goal(goal) first")
        with torch.inference_mode():
            pose = self._network.regress(self._embed(image), self._goal_map)[0]
        s = pose.numpy().astype(np.float64)
        return FeatureSample(s, pose_interaction(s) if with_interaction else None)

    def _embed(self, image: np.ndarray) -> torch.Tensor:
        pixels = torch.from_numpy(check_network_image("Siame-se(3)", self.model_path, image, self.camera))
        with torch.inference_mode():
            return self._network.embed(pixels[None, None])
