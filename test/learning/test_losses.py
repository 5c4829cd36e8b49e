import numpy as np
import pytest
import scipy.fft
import torch

from aevs_ros.learning.losses import (FrequencyWeightedDCTLoss, PixelBCELoss, dct2, dct_matrix,
                                      make_loss)


def test_dct_matrix_is_orthonormal():
    matrix = dct_matrix(16, torch.float64)
    assert torch.allclose(matrix @ matrix.T, torch.eye(16, dtype=torch.float64), atol=1e-12)


def test_dct2_matches_scipy_orthonormal_dctn():
    images = torch.rand(3, 1, 12, 20, dtype=torch.float64)
    ours = dct2(images, dct_matrix(12, torch.float64), dct_matrix(20, torch.float64))
    reference = scipy.fft.dctn(images.numpy(), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-12)


def test_dct_loss_is_the_weighted_mean_of_coefficient_differences():
    size = 16
    target, reconstruction = torch.rand(2, 2, 1, size, size)
    loss = FrequencyWeightedDCTLoss(size)(reconstruction, target)
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    weights = 1.0 / (i + j + 1)
    def coefficients(image):
        return scipy.fft.dctn(image[0].numpy(), norm="ortho")

    per_image = [(weights * np.abs(coefficients(r) - coefficients(t))).sum() / size**2
                 for r, t in zip(reconstruction, target)]
    assert loss.item() == pytest.approx(np.mean(per_image), rel=1e-5)
    assert FrequencyWeightedDCTLoss(size)(target, target).item() == pytest.approx(0.0, abs=1e-7)


def test_dct_loss_weights_low_frequencies_more():
    size = 16
    target = torch.zeros(1, 1, size, size)
    loss = FrequencyWeightedDCTLoss(size)
    columns = dct_matrix(size)
    low = torch.outer(columns[0], columns[1])[None, None]  # basis image of F[0, 1]
    high = torch.outer(columns[10], columns[11])[None, None]  # basis image of F[10, 11]
    assert loss(low, target) > 10 * loss(high, target)


def test_losses_are_selectable_by_name():
    assert isinstance(make_loss("dct", 8), FrequencyWeightedDCTLoss)
    assert isinstance(make_loss("bce", 8), PixelBCELoss)
    with pytest.raises(ValueError, match="dct or bce|dct, bce"):
        make_loss("mse", 8)


def test_bce_matches_the_formula():
    target, reconstruction = torch.rand(2, 4, 1, 8, 8).clamp(0.01, 0.99)
    expected = -(target * reconstruction.log() + (1 - target) * (1 - reconstruction).log()).mean()
    assert PixelBCELoss()(reconstruction, target).item() == pytest.approx(expected.item(), rel=1e-5)
