"""Image gradients and the photometric interaction matrix L_I of direct visual servoing.

L_I = -grad(I)^T L_x at every pixel (Collewet & Marchand 2011), with L_x the interaction
matrix of the normalised image point at depth Z. Gradients use ViSP's 7-tap derivative filter,
so the ``border`` outermost pixels (at least 3) have no valid gradient and get zero rows.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from types import SimpleNamespace

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
    check_border(shape, border)
    mask = np.zeros(shape, bool)
    mask[border:-border, border:-border] = True
    return mask


def check_border(shape: tuple[int, int], border: int) -> None:
    """ConfigurationError unless the derivative filter fits in ``border`` and leaves an interior."""
    if border < MIN_BORDER:
        raise ConfigurationError(f"border must be at least {MIN_BORDER} pixels for the derivative filter")
    if 2 * border >= min(shape):
        raise ConfigurationError(f"border of {border} pixels leaves nothing of a {shape} image")


def photometric_interaction(image: np.ndarray, camera: PinholeCamera, depth=0.6,
                            border: int = DEFAULT_BORDER, dtype=np.float64) -> np.ndarray:
    """L_I, shape (h*w, 6), rows in C order; rows of the border pixels are zero.

    ``depth`` is the plane's depth, either one value (the usual constant-Z approximation,
    taken at the goal) or an (h, w) array of per-pixel depths. ``dtype`` float32 halves the
    memory traffic; the intensities it is computed from are float32 anyway.
    """
    image = check_image(image, camera.shape)
    check_border(camera.shape, border)
    planes = np.empty((6,) + camera.shape, dtype)  # one contiguous plane per degree of freedom
    _fill_planes(image, camera, depth, border, planes, interior_only=False)
    return planes.reshape(6, -1).T  # (h*w, 6) view; column k is plane k


def interaction_planes(image: np.ndarray, camera: PinholeCamera, depth, border: int,
                       out: np.ndarray) -> np.ndarray:
    """Write L_I's six columns over the interior (inside ``border``), as images, into ``out``
    ((6, h - 2 border, w - 2 border), float32 or float64) and return it; ``image`` is checked.

    The planes are built over the whole image (contiguous passes) and their interior copied:
    faster than strided passes over the interior alone."""
    scratch = _scratch(camera.shape, out.dtype)
    _fill_planes(image, camera, depth, border, scratch.planes, interior_only=False)
    np.copyto(out, scratch.planes[:, border:camera.height - border, border:camera.width - border])
    return out


def _fill_planes(image, camera, depth, border, out, interior_only):
    """L_I's columns as images: I_x / Z, I_y / Z, -q / Z, -I_y - y q, I_x + x q, x I_y - y I_x,
    with I_x, I_y the gradient in normalised coordinates and q = x I_x + y I_y.

    Eight numpy passes, each over two planes at once (the gradient images stacked against
    stacked coordinate grids), after the two derivative filters. The gradient is zeroed on the
    border, so every column is zero there without masking the six planes.
    """
    dtype = out.dtype
    terms = _camera_terms(camera, border, dtype.str)
    scratch = _scratch(camera.shape, dtype)
    gradient, product = scratch.gradient, scratch.product
    source = image if dtype == np.float32 else image.astype(dtype)
    ddepth = cv2.CV_32F if dtype == np.float32 else cv2.CV_64F
    cv2.filter2D(source, ddepth, terms.kernel_u, dst=gradient[0], borderType=cv2.BORDER_REPLICATE)
    cv2.filter2D(source, ddepth, terms.kernel_minus_v, dst=gradient[1], borderType=cv2.BORDER_REPLICATE)
    gradient[:, :border] = gradient[:, -border:] = 0.0
    gradient[:, :, :border] = gradient[:, :, -border:] = 0.0
    if interior_only:
        inside = (slice(None), slice(border, camera.height - border), slice(border, camera.width - border))
        gradient, product = gradient[inside], product[inside]
        x_minus_y, minus_y_x = (grid[inside] for grid in terms.grids)
    else:
        inside = (slice(None),) * 3
        x_minus_y, minus_y_x = terms.grids
    if np.ndim(depth):  # per-pixel depth: (1/Z, -1/Z) as images
        signed = np.array([1.0, -1.0])[:, None, None] / np.asarray(depth, dtype=np.float64)
        inverse_depth_pair = signed[inside].astype(dtype)
        minus_inverse_depth = inverse_depth_pair[1]
    else:
        inverse_depth_pair, minus_inverse_depth = _inverse_depth_pair(float(depth), dtype.str)
    q = out[2]
    np.multiply(gradient, inverse_depth_pair, out=out[0:2])  # I_x / Z, I_y / Z
    np.multiply(gradient, x_minus_y, out=product)  # x I_x, y I_y
    np.add(product[0], product[1], out=q)
    np.multiply(q, minus_y_x, out=out[3:5])  # -y q, x q
    out[3:5] += gradient[::-1]  # -y q - I_y, x q + I_x
    np.multiply(gradient, minus_y_x, out=product)  # -y I_x, -x I_y
    np.subtract(product[0], product[1], out=out[5])
    q *= minus_inverse_depth
    return out


@lru_cache(maxsize=16)
def _camera_terms(camera: PinholeCamera, border: int, dtype: str) -> SimpleNamespace:
    """The derivative kernels scaled to normalised coordinates (I_x = fx dI/du, and -I_y), and
    the coordinate grids the planes multiply: (x, -y) and (-y, x), each (2, h, w)."""
    x, y = (grid.astype(dtype) for grid in camera.normalized_grid())
    kernel = DERIVATIVE_KERNEL.reshape(1, -1)
    grids = tuple(np.ascontiguousarray(np.stack(pair)) for pair in ((x, -y), (-y, x)))
    for grid in grids:
        grid.flags.writeable = False
    return SimpleNamespace(kernel_u=(kernel * camera.fx).astype(dtype),
                           kernel_minus_v=(kernel.T * -camera.fy).astype(dtype), grids=grids)


@lru_cache(maxsize=64)
def _inverse_depth_pair(depth: float, dtype: str):
    """((1/Z, -1/Z) shaped to scale two stacked planes, -1/Z) for a constant depth."""
    pair = np.array([1.0 / depth, -1.0 / depth], dtype)[:, None, None]
    pair.flags.writeable = False
    return pair, pair.dtype.type(-1.0 / depth)


_THREAD_SCRATCH = threading.local()


def _scratch(shape: tuple[int, int], dtype: np.dtype) -> SimpleNamespace:
    """Per-thread gradient and product images, reused from frame to frame: allocating them
    anew costs page faults that at camera sizes take longer than the arithmetic."""
    buffers = getattr(_THREAD_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _THREAD_SCRATCH.buffers = {}
    key = (shape, dtype.str)
    if key not in buffers:
        if len(buffers) >= 4:
            buffers.clear()
        buffers[key] = SimpleNamespace(gradient=np.empty((2,) + shape, dtype), product=np.empty((2,) + shape, dtype),
                                       planes=np.empty((6,) + shape, dtype))
    return buffers[key]
