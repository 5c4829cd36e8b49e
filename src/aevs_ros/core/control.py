"""Control laws: pure functions from an interaction matrix and an error to a camera twist."""
from __future__ import annotations

from enum import Enum

import cv2
import numpy as np

from .errors import ConfigurationError


class InteractionChoice(str, Enum):
    """Which interaction matrix drives the law, as vpServo's CURRENT / DESIRED / MEAN."""

    CURRENT = "current"  #: L at the current image (the paper's choice)
    DESIRED = "desired"  #: L at the goal image, computed once
    #: (L + L*) / 2, ESM-like: the default. For AEVS it converges from screw motions where
    #: the current L fails, notably 0.3 m closer than the goal (README "Which interaction matrix")
    MEAN = "mean"

    @property
    def uses_current(self) -> bool:
        """select() reads the current image's matrix: every step must compute L."""
        return self is not InteractionChoice.DESIRED

    @property
    def uses_desired(self) -> bool:
        """select() reads the goal's matrix: the goal must be computed with L*."""
        return self is not InteractionChoice.CURRENT

    def select(self, current: np.ndarray | None, desired: np.ndarray | None) -> np.ndarray:
        if self is InteractionChoice.CURRENT:
            return current
        if self is InteractionChoice.DESIRED:
            return desired
        if _columns_contiguous(current) and _columns_contiguous(desired) and current.dtype == desired.dtype:
            # one fused pass over the columns (each a contiguous image-sized row of .T)
            return cv2.addWeighted(current.T, 0.5, desired.T, 0.5, 0.0).T
        return 0.5 * (current + desired)


def levenberg_marquardt(interaction: np.ndarray, error: np.ndarray, gain: float, mu: float,
                        damping_weights=None) -> np.ndarray:
    """v = -gain (H + mu W diag(H))^-1 L^T e with H = L^T L (the paper's Eq. 18; W = I there).

    ``damping_weights`` (6,), W's diagonal, damps some degrees of freedom more than others."""
    if interaction.ndim != 2 or interaction.shape[1] != 6 or interaction.shape[0] != error.shape[0]:
        raise ConfigurationError(
            f"interaction matrix {interaction.shape} does not match an error of {error.shape[0]} features")
    # in the matrix's own precision: a float64 error would promote a float32 L to a float64 copy
    error = error.astype(interaction.dtype, copy=False)
    hessian = gram(interaction)
    gradient = (interaction.T @ error).astype(np.float64)
    weights = 1.0 if damping_weights is None else np.asarray(damping_weights, hessian.dtype)
    damped = hessian + mu * np.diag(weights * np.diag(hessian))
    return -gain * np.linalg.solve(damped, gradient)


#: above this many rows, gram() takes L^T L column by column
GRAM_BY_COLUMNS_ROWS = 2048


def gram(matrix: np.ndarray) -> np.ndarray:
    """L^T L (float64) of a (k, n) matrix.

    For a tall L whose columns are contiguous (the photometric interaction matrices), n
    matrix-vector products (each column against the ones after it) are several times faster
    than the one BLAS product L^T L, which handles a k-long inner dimension with an n-wide
    output poorly.
    """
    columns = matrix.T
    if matrix.shape[0] < GRAM_BY_COLUMNS_ROWS or not columns.flags.c_contiguous:
        return (columns @ matrix).astype(np.float64)
    size = matrix.shape[1]
    lower = np.zeros((size, size))
    for j in range(size):
        lower[j:, j] = columns[j:] @ columns[j]
    return lower + np.tril(lower, -1).T


def _columns_contiguous(matrix) -> bool:
    return matrix is not None and matrix.ndim == 2 and matrix.T.flags.c_contiguous


def clamp_twist(velocity: np.ndarray, max_linear: float, max_angular: float) -> np.ndarray:
    """Scale the whole twist down so neither speed exceeds its limit (keeps its direction)."""
    linear, angular = np.linalg.norm(velocity[:3]), np.linalg.norm(velocity[3:])
    scale = min(1.0, max_linear / linear if linear > 0 else 1.0, max_angular / angular if angular > 0 else 1.0)
    return velocity * scale


#: Tukey's biweight constant: 95 % efficiency on Gaussian residuals (as ViSP's vpRobust)
TUKEY_C = 4.6851
#: MAD -> standard deviation of a Gaussian
MAD_TO_SIGMA = 1.4826


def tukey_weights(residual: np.ndarray, min_scale: float = 1e-6) -> np.ndarray:
    """M-estimator weights in [0, 1] per residual (Tukey's biweight, scale from the median
    absolute deviation): outliers such as occluded or highlighted pixels get weight 0."""
    centred = residual - np.median(residual)
    scale = max(MAD_TO_SIGMA * float(np.median(np.abs(centred))), min_scale)
    u = centred / (TUKEY_C * scale)
    return np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
