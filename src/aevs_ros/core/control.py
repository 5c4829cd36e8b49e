"""Control laws: pure functions from an interaction matrix and an error to a camera twist."""
from __future__ import annotations

from enum import Enum

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
        return 0.5 * (current + desired)


def levenberg_marquardt(interaction: np.ndarray, error: np.ndarray, gain: float, mu: float,
                        damping_weights=None) -> np.ndarray:
    """v = -gain (H + mu W diag(H))^-1 L^T e with H = L^T L (the paper's Eq. 18; W = I there).

    ``damping_weights`` (6,), W's diagonal, damps some degrees of freedom more than others."""
    if interaction.ndim != 2 or interaction.shape[1] != 6 or interaction.shape[0] != error.shape[0]:
        raise ConfigurationError(
            f"interaction matrix {interaction.shape} does not match an error of {error.shape[0]} features")
    hessian = interaction.T @ interaction
    weights = 1.0 if damping_weights is None else np.asarray(damping_weights, hessian.dtype)
    damped = hessian + mu * np.diag(weights * np.diag(hessian))
    return -gain * np.linalg.solve(damped, interaction.T @ error)


def clamp_twist(velocity: np.ndarray, max_linear: float, max_angular: float) -> np.ndarray:
    """Scale the whole twist down so neither speed exceeds its limit (keeps its direction)."""
    linear, angular = np.linalg.norm(velocity[:3]), np.linalg.norm(velocity[3:])
    scale = min(1.0, max_linear / linear if linear > 0 else 1.0, max_angular / angular if angular > 0 else 1.0)
    return velocity * scale
