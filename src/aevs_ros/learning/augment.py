"""Photometric augmentation of the training views: what a real camera does to them.

The shipped model only ever saw clean renderings, so a brighter light or an occluder moves its
latent code far from the goal's (README "Camera imperfections"). ``photometric_augmentation``
perturbs each view of a batch with its own random draw of the perturbations that
core/imperfections.py simulates and that a single image can show: a change of light against the
goal (gain and offset), a lighting gradient, an occluder, sensor noise and a blur standing in for
defocus and motion blur. The moving highlight and the sliding occluder need the camera's pose
and time, which a training view does not have.

Intensities are in the views' [0, 1] units, as in core/imperfections.py. Each perturbation
is applied to a view with its own probability, independently of the others, so a view may
carry several or none (the goal image the servo compares with is a clean one). The ranges
reach past the levels of bench/robustness.py CONDITIONS so that the benchmark's conditions
lie inside what training saw.
"""
from __future__ import annotations

import math

import torch

#: I' = gain I + offset, the light of the current image against the goal's (CameraImperfections.gain,
#: offset); a gain above 1 saturates the bright regions, which the clipping below reproduces
GAIN_PROBABILITY, GAIN_RANGE = 0.5, (0.6, 1.4)
OFFSET_PROBABILITY, OFFSET_RANGE = 0.3, (-0.1, 0.1)
#: the illumination grows linearly by this fraction across the view (CameraImperfections.gradient),
#: centred on the middle, along a direction drawn uniformly (the simulator's is left to right)
GRADIENT_PROBABILITY, GRADIENT_RANGE = 0.3, (0.0, 0.5)
#: standard deviation of additive Gaussian noise (CameraImperfections.noise_std)
NOISE_PROBABILITY, NOISE_STD_RANGE = 0.5, (0.0, 0.03)
#: standard deviation of a Gaussian blur, pixels of the training view
BLUR_PROBABILITY, BLUR_SIGMA_RANGE = 0.2, (0.5, 1.5)
#: a rectangle of uniform grey covering this share of the view (CameraImperfections.occlusion),
#: anywhere inside it, its width over its height log-uniform in OCCLUDER_ASPECT_RANGE
OCCLUDER_PROBABILITY, OCCLUDER_AREA_RANGE = 0.3, (0.05, 0.25)
OCCLUDER_ASPECT_RANGE, OCCLUDER_GREY_RANGE = (0.5, 2.0), (0.0, 1.0)


def photometric_augmentation(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A perturbed copy of the float batch ``images`` (B, 1, H, W) in [0, 1], clipped to [0, 1].

    The perturbations come in the order of core.imperfections.ImperfectCamera.apply (blur,
    light, gradient, occluder, noise). Every random number is drawn whether or not its
    perturbation is applied, so how far a batch advances ``generator`` depends on the batch's
    shape alone.
    """
    batch, _, height, width = images.shape
    draw = _Draws(generator, batch, images.device)
    blur_sigma = draw.sometimes(BLUR_SIGMA_RANGE, BLUR_PROBABILITY, off=0.0)
    gain = draw.sometimes(GAIN_RANGE, GAIN_PROBABILITY, off=1.0)
    offset = draw.sometimes(OFFSET_RANGE, OFFSET_PROBABILITY, off=0.0)
    gradient = draw.sometimes(GRADIENT_RANGE, GRADIENT_PROBABILITY, off=0.0)
    gradient_angle = draw.uniform((0.0, 2 * math.pi))
    occluded = draw.chance(OCCLUDER_PROBABILITY)
    occluder_area = draw.uniform(OCCLUDER_AREA_RANGE)
    occluder_aspect = torch.exp(draw.uniform(tuple(math.log(a) for a in OCCLUDER_ASPECT_RANGE)))
    occluder_grey = draw.uniform(OCCLUDER_GREY_RANGE)
    occluder_corner = draw.uniform((0.0, 1.0)), draw.uniform((0.0, 1.0))
    noise_std = draw.sometimes(NOISE_STD_RANGE, NOISE_PROBABILITY, off=0.0)
    noise = torch.randn(images.shape, generator=generator, device=generator.device).to(images.device)

    out = images.clone()
    blurred = blur_sigma > 0
    if blurred.any():
        out[blurred] = _gaussian_blur(images[blurred], blur_sigma[blurred])
    out = gain.view(-1, 1, 1, 1) * out + offset.view(-1, 1, 1, 1)
    x = (torch.arange(width, device=images.device) - (width - 1) / 2) / width
    y = (torch.arange(height, device=images.device) - (height - 1) / 2) / height
    along = (torch.cos(gradient_angle).view(-1, 1, 1) * x.view(1, 1, -1)
             + torch.sin(gradient_angle).view(-1, 1, 1) * y.view(1, -1, 1))
    out = out * (1.0 + gradient.view(-1, 1, 1) * along).unsqueeze(1)
    occluder = (_rectangles(height, width, occluder_area, occluder_aspect, occluder_corner)
                & occluded.view(-1, 1, 1))
    out = torch.where(occluder.unsqueeze(1), occluder_grey.view(-1, 1, 1, 1), out)
    out = out + noise_std.view(-1, 1, 1, 1) * noise
    return out.clamp_(0.0, 1.0)


class _Draws:
    """Per-image random parameters from one generator, on the generator's device, then the batch's."""

    def __init__(self, generator: torch.Generator, batch: int, device: torch.device):
        self.generator, self.batch, self.device = generator, batch, device

    def _unit(self) -> torch.Tensor:
        return torch.rand(self.batch, generator=self.generator, device=self.generator.device).to(self.device)

    def chance(self, probability: float) -> torch.Tensor:
        return self._unit() < probability

    def uniform(self, bounds: tuple[float, float]) -> torch.Tensor:
        low, high = bounds
        return low + (high - low) * self._unit()

    def sometimes(self, bounds: tuple[float, float], probability: float, off: float) -> torch.Tensor:
        """Uniform in ``bounds`` for the images drawn with ``probability``, ``off`` (no change)
        for the others."""
        applied = self.chance(probability)
        return torch.where(applied, self.uniform(bounds), torch.tensor(off, device=self.device))


def _gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Each image blurred by its own sigma, separably, borders replicated as in the simulator.

    Sums of shifted slices rather than a grouped convolution: the number of blurred images
    changes from batch to batch, and oneDNN builds a new convolution for every group count.
    """
    height, width = images.shape[-2:]
    radius = math.ceil(3 * BLUR_SIGMA_RANGE[1])
    taps = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-0.5 * (taps.view(1, -1) / sigma.view(-1, 1)) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).view(len(images), 1, 1, 1, -1)
    padded = torch.nn.functional.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = sum(kernel[..., k] * padded[..., k:k + height, :] for k in range(2 * radius + 1))
    return sum(kernel[..., k] * rows[..., k:k + width] for k in range(2 * radius + 1))


def _rectangles(height: int, width: int, area: torch.Tensor, aspect: torch.Tensor,
                corner: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Masks (B, H, W) of one rectangle per image covering ``area`` of the view, ``aspect`` wide
    over high (clamped to the view), its corner placed by ``corner`` in [0, 1] so it lies inside."""
    side_h = (height * torch.sqrt(area / aspect)).round().clamp(1, height)
    side_w = (width * torch.sqrt(area * aspect)).round().clamp(1, width)
    top = ((height - side_h) * corner[0]).floor()
    left = ((width - side_w) * corner[1]).floor()
    rows = torch.arange(height, device=area.device).view(1, -1, 1)
    cols = torch.arange(width, device=area.device).view(1, 1, -1)
    inside_rows = (rows >= top.view(-1, 1, 1)) & (rows < (top + side_h).view(-1, 1, 1))
    inside_cols = (cols >= left.view(-1, 1, 1)) & (cols < (left + side_w).view(-1, 1, 1))
    return inside_rows & inside_cols
