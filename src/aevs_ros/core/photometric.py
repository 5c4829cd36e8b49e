"""Image gradients and the photometric interaction matrix L_I of direct visual servoing.

L_I = -grad(I)^T L_x at every pixel (Collewet & Marchand 2011), with L_x the interaction
matrix of the normalised image point at depth Z. Gradients use ViSP's 7-tap derivative filter,
so the ``border`` outermost pixels (at least 3) have no valid gradient and get zero rows.
"""
from __future__ import annotations

import cv2
import numpy as np

from .camera import PinholeCamera
from .errors import ConfigurationError, InvalidImageError

#: ViSP's derivative filter (vpImageFilter::derivativeFilterX), as a correlation kernel.
DERIVATIVE_KERNEL = np.array([-112.0, -913.0, -2047.0, 0.0, 2047.0, 913.0, 112.0]) / 8418.0
MIN_BORDER = len(DERIVATIVE_KERNEL) // 2
DEFAULT_BORDER = MIN_BORDER


def check_image(image: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Return ``image`` as float32 (h, w), raising InvalidImageError with the reason if it is not one."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim != 2:
        raise InvalidImageError(f"expected a single-channel (h, w) image, got shape {image.shape}")
    if shape is not None and image.shape != tuple(shape):
        raise InvalidImageError(f"expected a {shape[1]}x{shape[0]} image, got {image.shape[1]}x{image.shape[0]}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise InvalidImageError(f"expected float32 intensities in [0, 1] or uint8, got dtype {image.dtype}")
    if not np.isfinite(image).all():
        raise InvalidImageError("image holds NaN or infinite intensities")
    return image.astype(np.float32, copy=False)


def image_gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d I / d u and d I / d v in intensity per pixel (float64)."""
    image = image.astype(np.float64, copy=False)
    kernel = DERIVATIVE_KERNEL.reshape(1, -1)
    gu = cv2.filter2D(image, cv2.CV_64F, kernel, borderType=cv2.BORDER_REPLICATE)
    gv = cv2.filter2D(image, cv2.CV_64F, kernel.T, borderType=cv2.BORDER_REPLICATE)
    return gu, gv


def border_mask(shape: tuple[int, int], border: int) -> np.ndarray:
    """True on the interior pixels where the derivative filter is valid."""
    if border < MIN_BORDER:
        raise ConfigurationError(f"border must be at least {MIN_BORDER} pixels for the derivative filter")
    if 2 * border >= min(shape):
        raise ConfigurationError(f"border of {border} pixels leaves nothing of a {shape} image")
    mask = np.zeros(shape, bool)
    mask[border:-border, border:-border] = True
    return mask


def photometric_interaction(image: np.ndarray, camera: PinholeCamera, depth=0.6,
                            border: int = DEFAULT_BORDER) -> np.ndarray:
    """L_I, shape (h*w, 6), rows in C order; rows of the border pixels are zero.

    ``depth`` is the plane's depth, either one value (the usual constant-Z approximation,
    taken at the goal) or an (h, w) array of per-pixel depths.
    """
    image = check_image(image, camera.shape)
    border_mask(camera.shape, border)  # validates the border
    x, y = camera.normalized_grid()
    gu, gv = image_gradients(image)
    ix, iy = gu * camera.fx, gv * camera.fy  # gradient w.r.t. normalised coordinates
    inv_z = 1.0 / np.asarray(depth, dtype=np.float64)
    # one contiguous plane per degree of freedom, written in place (no (h, w, 6) stack)
    planes = np.empty((6,) + camera.shape)
    np.multiply(ix, inv_z, out=planes[0])
    np.multiply(iy, inv_z, out=planes[1])
    np.multiply(-(x * ix + y * iy), inv_z, out=planes[2])
    np.subtract(-ix * x * y, iy * (1 + y * y), out=planes[3])
    np.add(ix * (1 + x * x), iy * x * y, out=planes[4])
    np.subtract(iy * x, ix * y, out=planes[5])
    planes[:, :border] = planes[:, -border:] = 0.0
    planes[:, :, :border] = planes[:, :, -border:] = 0.0
    return planes.reshape(6, -1).T  # (h*w, 6) view; column k is plane k
