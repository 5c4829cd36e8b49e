"""Reconstruction losses of AEVS (paper Sec. III-B), and the pose loss of Siame-se(3).

The frequency-weighted DCT loss (Eq. 9) steers the latent space towards the low
frequencies, which widens the convergence basin of servoing; the pixel-wise binary
cross-entropy (Eq. 8) is the usual alternative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aevs_ros.learning.config import LOSSES


def dct_matrix(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Orthonormal DCT-II matrix C (size, size): the DCT of a vector x is C @ x."""
    frequency = torch.arange(size, dtype=torch.float64)[:, None]
    position = torch.arange(size, dtype=torch.float64)[None, :]
    matrix = torch.cos(math.pi * (2 * position + 1) * frequency / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix.to(dtype)


def dct2(images: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II of the last two dimensions, as two matrix products."""
    return rows @ images @ columns.T


class FrequencyWeightedDCTLoss(nn.Module):
    """L = 1/(H W) sum_ij M_ij |F_ij - F~_ij| with M_ij = 1/(i+j+1), averaged over the batch.

    F and F~ are the orthonormal 2-D DCT-II of the target and of the reconstruction.
    """

    def __init__(self, height: int, width: int | None = None):
        super().__init__()
        width = height if width is None else width
        self.register_buffer("row_dct", dct_matrix(height), persistent=False)
        self.register_buffer("column_dct", dct_matrix(width), persistent=False)
        i = torch.arange(height, dtype=torch.float32)[:, None]
        j = torch.arange(width, dtype=torch.float32)[None, :]
        self.register_buffer("weights", 1.0 / (i + j + 1), persistent=False)

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        difference = dct2(reconstruction.float() - target.float(), self.row_dct, self.column_dct)
        weighted = self.weights * difference.abs()
        return weighted.flatten(1).sum(1).mean() / self.weights.numel()


class PixelBCELoss(nn.Module):
    """Mean pixel-wise binary cross-entropy between a [0, 1] reconstruction and the target."""

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(reconstruction.float(), target.float())


class PoseLoss(nn.Module):
    """L = |t^ - t| + rotation_weight |θu^ - θu| (Euclidean norms, m and rad), averaged over the batch.

    Norms, not their squares: every pair pulls with the same strength whatever its error, so
    the pairs near the goal, whose errors are small, still have their say; the servo stops
    where the estimate meets the goal's, so the end error is the network's error there.
    (An error relative to the pose's size weighs them more, but from scratch it left the
    network answering "at the goal" for every pair in short trainings.)
    """

    def __init__(self, rotation_weight: float):
        super().__init__()
        self.rotation_weight = rotation_weight

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = estimate.float() - target.float()
        translation = torch.linalg.vector_norm(error[:, :3], dim=1)
        rotation = torch.linalg.vector_norm(error[:, 3:], dim=1)
        return (translation + self.rotation_weight * rotation).mean()


def make_loss(name: str, input_size: int) -> nn.Module:
    """The reconstruction loss called `name` ("dct" or "bce") for square images of input_size."""
    if name == "dct":
        return FrequencyWeightedDCTLoss(input_size)
    if name == "bce":
        return PixelBCELoss()
    raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
