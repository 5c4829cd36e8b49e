"""Pinhole camera model (no distortion: images are assumed rectified)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Mapping

import numpy as np

from .errors import ConfigurationError

#: Focal length of the default simulated camera, in units of the image width (hfov ~ 39 deg).
DEFAULT_FOCAL_PER_WIDTH = 1.40625


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics in pixels; (cx, cy) is the principal point, pixel centres at integers."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ConfigurationError(f"camera size must be positive, got {self.width}x{self.height}")
        if not (self.fx > 0 and self.fy > 0):
            raise ConfigurationError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    @classmethod
    def from_camera_info(cls, info: Mapping) -> "PinholeCamera":
        """Build from a CameraInfo-like mapping: width, height and k (or K, camera_matrix.data)."""
        k = info.get("k", info.get("K"))
        if k is None and "camera_matrix" in info:
            k = info["camera_matrix"]["data"]
        if k is None:
            raise ConfigurationError("camera info has no intrinsic matrix (k, K or camera_matrix)")
        k = np.asarray(k, dtype=float).reshape(3, 3)
        width = int(info.get("width", info.get("image_width", 0)))
        height = int(info.get("height", info.get("image_height", 0)))
        return cls(width, height, float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))

    def to_camera_info(self) -> dict:
        """CameraInfo fields (plumb-bob model with zero distortion)."""
        k = self.K
        p = np.hstack([k, np.zeros((3, 1))])
        return {"width": self.width, "height": self.height, "distortion_model": "plumb_bob",
                "d": [0.0] * 5, "k": k.ravel().tolist(), "r": np.eye(3).ravel().tolist(),
                "p": p.ravel().tolist()}

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the conventional name
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def normalized_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Normalised coordinates x = (u - cx)/fx, y = (v - cy)/fy of every pixel, shape (h, w).

        Cached per camera (read-only arrays): renderers and L_I ask for it every frame.
        """
        return _normalized_grid(self)

    def center_crop(self, width: int, height: int) -> "PinholeCamera":
        """The camera of the centred width x height window of this camera's image."""
        left, top = (self.width - width) // 2, (self.height - height) // 2
        return replace(self, width=width, height=height, cx=self.cx - left, cy=self.cy - top)

    def scaled(self, width: int, height: int) -> "PinholeCamera":
        """The camera of this camera's image resized to width x height (pixel-centre aligned)."""
        sx, sy = width / self.width, height / self.height
        return PinholeCamera(width, height, self.fx * sx, self.fy * sy,
                             (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5)


@lru_cache(maxsize=16)
def _normalized_grid(camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    u = (np.arange(camera.width) - camera.cx) / camera.fx
    v = (np.arange(camera.height) - camera.cy) / camera.fy
    x, y = np.meshgrid(u, v)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def default_camera(width: int = 128, height: int | None = None) -> PinholeCamera:
    """The simulated camera of the demo, the training data and the benchmarks (square unless
    ``height`` is given); also the servo's guess for a camera without camera_info."""
    height = width if height is None else height
    focal = DEFAULT_FOCAL_PER_WIDTH * width
    return PinholeCamera(width, height, focal, focal, (width - 1) / 2, (height - 1) / 2)
