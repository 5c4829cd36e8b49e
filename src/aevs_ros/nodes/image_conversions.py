"""sensor_msgs/Image <-> NumPy, with no cv_bridge (absent from PyPI) and no copy of its API.

* :func:`image_to_gray` turns an Image of a supported encoding into the core's image
  convention: float32 ``(h, w)`` grey levels in ``[0, 1]``. Integer encodings are scaled by
  their maximum (255, 65535). A float image (32FC1) must already hold grey levels in
  ``[0, 1]``: values outside it by more than :data:`FLOAT_RANGE_TOLERANCE` are rejected, not
  clipped (a 0-255 float image would otherwise turn near-white and the servo would move from it).
* :func:`image_to_array` gives the raw pixels, ``(h, w)`` or ``(h, w, c)`` in the encoding's
  dtype (row padding removed, byte order fixed).
* :func:`array_to_image_msg` and :func:`gray_to_image_msg` build messages from arrays.

Every problem (unsupported encoding, size or step inconsistent with the data, NaN or values
outside [0, 1] in a float image) raises ``core.errors.InvalidImageError`` with the reason,
never a bare numpy error, so a node can log it and drop the frame.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from aevs_ros.core.camera import PinholeCamera
from aevs_ros.core.errors import InvalidImageError

#: encoding -> (numpy dtype, channels)
ENCODINGS = {
    'mono8': (np.uint8, 1), '8UC1': (np.uint8, 1),
    'mono16': (np.uint16, 1), '16UC1': (np.uint16, 1),
    '32FC1': (np.float32, 1),
    'bgr8': (np.uint8, 3), 'rgb8': (np.uint8, 3),
    'bgra8': (np.uint8, 4), 'rgba8': (np.uint8, 4),
}
#: ITU-R BT.601 luma weights (what cv2.COLOR_BGR2GRAY uses), in R, G, B order
_LUMA_RGB = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_GRAY_OUT = ('mono8', 'mono16', '32FC1')
#: how far outside [0, 1] a float image may stray (rounding, resampling) and still be clipped
FLOAT_RANGE_TOLERANCE = 1e-3


def _dtype_and_channels(encoding: str):
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise InvalidImageError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}") from None


def image_to_array(msg: Image) -> np.ndarray:
    """The pixels of ``msg`` as an array (h, w) or (h, w, c) of the encoding's dtype (a copy)."""
    dtype, channels = _dtype_and_channels(msg.encoding)
    dtype = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise InvalidImageError(f'empty image: {width}x{height} ({msg.encoding})')
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise InvalidImageError(
            f'step {step} is smaller than a row of {width} {msg.encoding} pixels ({row_bytes} bytes)')
    if len(msg.data) != step * height:
        raise InvalidImageError(
            f'{width}x{height} {msg.encoding} image with step {step} needs {step * height} bytes '
            f'of data, got {len(msg.data)}')
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder('='))
    return pixels.reshape((height, width) if channels == 1 else (height, width, channels))


def image_to_gray(msg: Image) -> np.ndarray:
    """Grey levels of ``msg`` as float32 (h, w) in [0, 1] (the core's image convention).

    Colour images use the BT.601 luma weights; 16-bit images are divided by 65535; 32FC1
    values must be intensities in [0, 1] already: NaN/inf and values beyond the tolerance are
    rejected, the rest clipped.
    """
    pixels = image_to_array(msg)
    encoding = msg.encoding
    if encoding == '32FC1':
        if not np.all(np.isfinite(pixels)):
            raise InvalidImageError('32FC1 image holds NaN or infinite values')
        low, high = float(pixels.min()), float(pixels.max())
        if low < -FLOAT_RANGE_TOLERANCE or high > 1.0 + FLOAT_RANGE_TOLERANCE:
            raise InvalidImageError(
                f'32FC1 image values must be grey levels in [0, 1] (tolerance {FLOAT_RANGE_TOLERANCE:g}), '
                f'got min {low:.6g}, max {high:.6g}: scale them (0-255 values: divide by 255)')
        return np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False)
    if pixels.ndim == 3:
        rgb = pixels[..., :3].astype(np.float32)
        if encoding.startswith('bgr'):
            rgb = rgb[..., ::-1]
        gray = rgb @ _LUMA_RGB
        return np.clip(gray / 255.0, 0.0, 1.0).astype(np.float32)
    scale = 255.0 if pixels.dtype == np.uint8 else 65535.0
    return (pixels.astype(np.float32) / np.float32(scale)).astype(np.float32)


def array_to_image_msg(array: np.ndarray, stamp=None, frame_id: str = '',
                       encoding: str = 'mono8') -> Image:
    """An Image holding ``array`` as it is (its dtype and channels must match ``encoding``)."""
    dtype, channels = _dtype_and_channels(encoding)
    array = np.asarray(array)
    expected_ndim = 2 if channels == 1 else 3
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise InvalidImageError(f'{encoding} needs an array of shape (h, w'
                                f"{'' if channels == 1 else f', {channels}'}), got {array.shape}")
    if array.dtype != dtype:
        raise InvalidImageError(f'{encoding} needs dtype {np.dtype(dtype)}, got {array.dtype}')
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder('<'))
    msg = Image(height=int(array.shape[0]), width=int(array.shape[1]), encoding=encoding,
                is_bigendian=0, step=int(array.shape[1] * channels * array.itemsize))
    msg.data = array.tobytes()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def gray_to_image_msg(array: np.ndarray, stamp=None, frame_id: str = '',
                      encoding: str = 'mono8') -> Image:
    """An Image of a float grey image in [0, 1] (the core's convention).

    ``encoding`` is mono8 or mono16 (values clipped to [0, 1], scaled and rounded) or 32FC1
    (the float values as they are). ``stamp`` is a builtin_interfaces/Time (or None).
    """
    if encoding not in _GRAY_OUT:
        raise InvalidImageError(
            f"cannot write a grey image as {encoding!r}; choose one of {', '.join(_GRAY_OUT)}")
    array = np.asarray(array)
    if array.ndim != 2 or array.size == 0:
        raise InvalidImageError(f'expected a non-empty (h, w) grey image, got shape {array.shape}')
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidImageError(f'expected float grey levels in [0, 1], got dtype {array.dtype}')
    if not np.all(np.isfinite(array)):
        raise InvalidImageError('grey image holds NaN or infinite values')
    if encoding == '32FC1':
        pixels = array.astype(np.float32)
    else:
        dtype = np.uint8 if encoding == 'mono8' else np.uint16
        pixels = np.rint(np.clip(array, 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)
    return array_to_image_msg(pixels, stamp, frame_id, encoding)


def camera_from_info(msg: CameraInfo) -> PinholeCamera:
    """The intrinsics of a CameraInfo (AevsError if it holds none usable)."""
    return PinholeCamera.from_camera_info({'k': msg.k, 'width': msg.width, 'height': msg.height})
