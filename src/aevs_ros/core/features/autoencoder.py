"""AEVS features: the latent vector z of a trained autoencoder and its interaction matrix.

s = z = h(I) and L_s = L_z = (dh/dI) L_I (paper Eq. 11), computed together in one
forward-mode pass of the encoder (core/network/linearize.py). The model file is the
self-describing one `aevs train` writes; its input size must be the camera's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..camera import PinholeCamera
from ..network.linearize import EncoderLinearization
from ..network.model import load_model
from ..photometric import DEFAULT_BORDER, photometric_interaction
from .base import (FeatureSample, ImageMapping, check_network_camera, check_network_image,
                   single_scene_fingerprint, without_still)


class AutoencoderFeature(ImageMapping):
    """Servo on the autoencoder's latent space (AEVS)."""

    name = "aevs"

    def __init__(self, model_path: str | Path | None, camera: PinholeCamera, depth: float = 0.6,
                 border: int = DEFAULT_BORDER):
        super().__init__(camera, depth, border)
        loaded = load_model(model_path)
        check_network_camera("AEVS", model_path, loaded.config.input_size, camera)
        self.model_path = Path(model_path)
        self.metadata = loaded.metadata
        self._latent_dim = loaded.config.latent_dim
        self._linearization = EncoderLinearization(loaded.model.encoder)
        self._decoder = loaded.model.decoder

    @classmethod
    def build(cls, camera: PinholeCamera, depth: float = 0.6, *, model_path=None,
              border: int = DEFAULT_BORDER, **options) -> "AutoencoderFeature":
        return cls(model_path, camera, depth, border=border, **options)

    @staticmethod
    def model_input_shape(model_path: str | Path | None) -> tuple[int, int]:
        """(h, w) of the square images the model takes (ModelError if it is missing or unreadable)."""
        size = load_model(model_path).config.input_size
        return size, size

    @staticmethod
    def model_scene_fingerprint(model_path: str | Path | None) -> str:
        """The training scene's fingerprint; a model of several scenes has "scenes" beside it."""
        return single_scene_fingerprint(load_model(model_path).metadata)

    @property
    def dim(self) -> int:
        return self._latent_dim

    def _checked(self, image: np.ndarray) -> np.ndarray:
        return check_network_image("AEVS", self.model_path, image, self.camera)

    def map(self, image: np.ndarray) -> np.ndarray:
        latent = self._linearization.latent(torch.from_numpy(self._checked(image)))
        return latent.numpy()

    def interaction(self, image: np.ndarray, photometric: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self._latent_and_interaction(self._checked(image), photometric)[1]

    def compute(self, image: np.ndarray, with_interaction: bool = True,
                still_pixels: np.ndarray | None = None) -> FeatureSample:
        """z and L_z from one pass (the base class would run the encoder twice)."""
        image = self._checked(image)
        if not with_interaction:
            return FeatureSample(self.map(image), None)
        photometric = without_still(photometric_interaction(image, self.camera, self.depth, self.border),
                                    still_pixels)
        return FeatureSample(*self._latent_and_interaction(image, photometric))

    def _latent_and_interaction(self, image: np.ndarray, photometric: np.ndarray):
        latent, interaction = self._linearization.latent_and_interaction(
            torch.from_numpy(image), torch.from_numpy(photometric.astype(np.float32)))
        return latent.numpy(), interaction.numpy()

    def reconstruct(self, s: np.ndarray) -> np.ndarray:
        """The decoder's image of z, float32 (h, w) in [0, 1] (for debug displays)."""
        with torch.inference_mode():
            latent = torch.as_tensor(np.asarray(s, np.float32))[None]
            return self._decoder(latent)[0, 0].numpy()
