"""sensor_msgs/Image <-> NumPy: round trips, colour to grey, padded rows, byte order, the float
range convention, errors."""
import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from aevs_ros.core.errors import InvalidImageError
from aevs_ros.nodes.image_conversions import (FLOAT_RANGE_TOLERANCE, array_to_image_msg,
                                              gray_to_image_msg, image_to_array, image_to_gray)

RNG = np.random.default_rng(0)
GRAY = RNG.random((6, 5)).astype(np.float32)


@pytest.mark.parametrize('encoding, tolerance', [('mono8', 0.5 / 255), ('mono16', 0.5 / 65535),
                                                 ('32FC1', 0.0)])
def test_gray_round_trip(encoding, tolerance):
    msg = gray_to_image_msg(GRAY, Time(sec=3, nanosec=7), 'cam', encoding)
    assert (msg.height, msg.width, msg.encoding, msg.header.frame_id) == (6, 5, encoding, 'cam')
    assert msg.header.stamp == Time(sec=3, nanosec=7) and len(msg.data) == msg.step * msg.height
    gray = image_to_gray(msg)
    assert gray.dtype == np.float32 and gray.shape == (6, 5)
    assert np.abs(gray - GRAY).max() <= tolerance + 1e-7


def test_gray_out_of_range_is_clipped_for_integer_encodings():
    msg = gray_to_image_msg(np.array([[-0.5, 0.0, 1.0, 1.5]]), encoding='mono8')
    assert list(msg.data) == [0, 0, 255, 255]


def test_float_image_scaled_0_to_255_is_refused_with_its_range():
    """The issue's case: clipping it gave a near-white image the servo moved from."""
    msg = array_to_image_msg((GRAY * 255).astype(np.float32), encoding='32FC1')
    low, high = float(GRAY.min() * 255), float(GRAY.max() * 255)
    with pytest.raises(InvalidImageError) as error:
        image_to_gray(msg)
    text = str(error.value)
    assert '[0, 1]' in text and f'min {low:.6g}' in text and f'max {high:.6g}' in text, text


@pytest.mark.parametrize('low, high', [(-2 * FLOAT_RANGE_TOLERANCE, 1.0), (0.0, 1 + 2 * FLOAT_RANGE_TOLERANCE),
                                       (-1.0, 0.5)])
def test_float_image_beyond_the_tolerance_is_refused(low, high):
    msg = array_to_image_msg(np.array([[low, 0.5, high]], np.float32), encoding='32FC1')
    with pytest.raises(InvalidImageError, match=r'must be grey levels in \[0, 1\]'):
        image_to_gray(msg)


def test_float_image_rounding_outside_0_1_is_clipped():
    """Values a resampling or a float conversion pushes just outside [0, 1] are kept."""
    values = np.array([[-FLOAT_RANGE_TOLERANCE / 2, 0.25, 1 + FLOAT_RANGE_TOLERANCE / 2]], np.float32)
    np.testing.assert_array_equal(image_to_gray(array_to_image_msg(values, encoding='32FC1')),
                                  np.array([[0.0, 0.25, 1.0]], np.float32))


@pytest.mark.parametrize('encoding, code', [('bgr8', cv2.COLOR_BGR2GRAY), ('rgb8', cv2.COLOR_RGB2GRAY),
                                            ('bgra8', cv2.COLOR_BGRA2GRAY),
                                            ('rgba8', cv2.COLOR_RGBA2GRAY)])
def test_colour_to_gray_matches_opencv(encoding, code):
    colour = RNG.integers(0, 256, (7, 9, len(encoding) - 1), dtype=np.uint8)
    msg = array_to_image_msg(colour, encoding=encoding)
    np.testing.assert_array_equal(image_to_array(msg), colour)
    expected = cv2.cvtColor(colour, code).astype(np.float32) / 255
    assert np.abs(image_to_gray(msg) - expected).max() <= 1.0 / 255


def test_padded_rows_and_big_endian_data():
    values = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    msg = Image(height=3, width=4, encoding='mono16', is_bigendian=1, step=10)  # 2 padding bytes
    rows = [values[r].astype('>u2').tobytes() + b'\xff\xff' for r in range(3)]
    msg.data = b''.join(rows)
    np.testing.assert_array_equal(image_to_array(msg), values)
    np.testing.assert_allclose(image_to_gray(msg), values / 65535.0, rtol=1e-6)


@pytest.mark.parametrize('fields, message', [
    (dict(encoding='yuv422', step=10, data=bytes(30)), 'unsupported image encoding'),
    (dict(encoding='mono8', step=5, data=bytes(14)), 'needs 15 bytes'),
    (dict(encoding='bgr8', step=5, data=bytes(15)), 'step 5 is smaller'),
    (dict(encoding='mono8', height=0, step=5, data=b''), 'empty image'),
    (dict(encoding='32FC1', step=20, data=np.full((3, 5), np.nan, np.float32).tobytes()), 'NaN'),
])
def test_bad_messages_raise_invalid_image_error(fields, message):
    msg = Image(height=fields.pop('height', 3), width=5, **fields)
    with pytest.raises(InvalidImageError, match=message):
        image_to_gray(msg)


@pytest.mark.parametrize('array, encoding, message', [
    (np.zeros((2, 3, 3)), 'mono8', r'\(h, w\) grey image, got shape'),
    (np.zeros((2, 3), np.uint8), 'mono8', 'float grey levels'),
    (np.full((2, 3), np.nan), 'mono8', 'NaN'),
    (np.zeros((2, 3)), 'bgr8', 'cannot write a grey image'),
    (np.zeros((0, 3)), 'mono8', 'non-empty'),
])
def test_bad_arrays_raise_invalid_image_error(array, encoding, message):
    with pytest.raises(InvalidImageError, match=message):
        gray_to_image_msg(array, encoding=encoding)


def test_array_to_image_msg_checks_dtype_and_channels():
    with pytest.raises(InvalidImageError, match='dtype uint8'):
        array_to_image_msg(np.zeros((2, 3, 3), np.float32), encoding='bgr8')
    with pytest.raises(InvalidImageError, match=r'\(h, w, 3\)'):
        array_to_image_msg(np.zeros((2, 3), np.uint8), encoding='bgr8')
