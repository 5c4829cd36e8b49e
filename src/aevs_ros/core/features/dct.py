"""DCT-VS (Marchand, RA-L 2020): servo on the lowest-frequency DCT coefficients of the image.

s holds the first D coefficients, in JPEG zigzag order, of the orthonormal 2-D DCT-II of the
interior of the image (the ``border`` where L_I is undefined is left out, as in ViSP's
vpLuminanceDCT). The transform is linear, so L_s is the same transform applied to each of the
six columns of L_I reshaped to an image. Both use the separable form C_r X C_cᵀ restricted to
the low-frequency block that holds the D coefficients (8 x 8 for D = 32), a few times cheaper
than a product with D full-size cosine images.
"""
from __future__ import annotations

import numpy as np
from scipy.fft import dct, idctn

from ..camera import PinholeCamera
from ..photometric import DEFAULT_BORDER, border_mask
from .base import ImageMapping, check_dim


def zigzag_indices(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every coefficient of a rows x cols spectrum in JPEG zigzag order.

    Anti-diagonals r + c = 0, 1, 2, ... in turn; odd diagonals run down-left (row rising),
    even ones up-right (row falling): (0,0) (0,1) (1,0) (2,0) (1,1) (0,2) (0,3) ...
    """
    row, col = np.indices((rows, cols)).reshape(2, -1)
    diagonal = row + col
    order = np.lexsort((np.where(diagonal % 2 == 1, row, -row), diagonal))
    return row[order], col[order]


def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix C (n, n): C @ x == scipy.fft.dct(x, norm='ortho')."""
    return dct(np.eye(n), norm="ortho", axis=0)


class DCTFeature(ImageMapping):
    """The D lowest-frequency coefficients of the orthonormal 2-D DCT of the image interior."""

    name = "dct"

    def __init__(self, camera: PinholeCamera, depth: float = 0.6, border: int = DEFAULT_BORDER,
                 dim: int = 32):
        super().__init__(camera, depth, border)
        border_mask(camera.shape, border)  # raises if the border leaves no interior
        self._interior = (slice(border, camera.height - border), slice(border, camera.width - border))
        rows, cols = camera.height - 2 * border, camera.width - 2 * border
        dim = check_dim(dim, rows * cols, "DCT")
        row_frequencies, col_frequencies = (index[:dim] for index in zigzag_indices(rows, cols))
        #: (D, 2): the (vertical, horizontal) frequency of each feature, zigzag order
        self.frequencies = np.column_stack([row_frequencies, col_frequencies])
        self._row_cosines = dct_matrix(rows)[:row_frequencies.max() + 1]  # (kr, rows)
        self._col_cosines = dct_matrix(cols)[:col_frequencies.max() + 1].T  # (cols, kc)

    @property
    def dim(self) -> int:
        return len(self.frequencies)

    def _low_frequencies(self, planes: np.ndarray) -> np.ndarray:
        """(..., rows, cols) interior planes -> (..., D) coefficients in zigzag order."""
        block = self._row_cosines @ planes @ self._col_cosines
        return block[..., self.frequencies[:, 0], self.frequencies[:, 1]]

    def map(self, image: np.ndarray) -> np.ndarray:
        return self._low_frequencies(image[self._interior].astype(np.float64))

    def interaction(self, image: np.ndarray, photometric: np.ndarray, s: np.ndarray) -> np.ndarray:
        planes = photometric.T.reshape((6,) + self.camera.shape)[(slice(None),) + self._interior]
        return self._low_frequencies(planes).T

    def reconstruct(self, s: np.ndarray) -> np.ndarray:
        """The inverse DCT with every other coefficient zero (a low-pass image; border 0)."""
        spectrum = np.zeros((self._row_cosines.shape[1], self._col_cosines.shape[0]))
        spectrum[self.frequencies[:, 0], self.frequencies[:, 1]] = s
        image = np.zeros(self.camera.shape, np.float32)
        image[self._interior] = idctn(spectrum, norm="ortho")
        return image
