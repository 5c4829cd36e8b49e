"""Photometric augmentation: each perturbation does what it says, reproducibly, and training
feeds the perturbed views to the model but scores the reconstruction against the clean ones."""
from pathlib import Path

import pytest
import torch

from aevs_ros.bench.robustness import CONDITIONS
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.imperfections import CameraImperfections
from aevs_ros.learning import augment
from aevs_ros.learning.augment import photometric_augmentation
from aevs_ros.learning.train import CHECKPOINT_NAME, _epoch_perturbation, _Process, _run_epoch, _Views, train

from test_train import _tiny_config

PROBABILITIES = ("GAIN_PROBABILITY", "OFFSET_PROBABILITY", "GRADIENT_PROBABILITY",
                 "NOISE_PROBABILITY", "BLUR_PROBABILITY", "OCCLUDER_PROBABILITY")


def _views(count=8, size=32, seed=0):
    return torch.rand(count, 1, size, size, generator=torch.Generator().manual_seed(seed))


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def only(monkeypatch):
    """Switch every perturbation off but the named one, which every image then gets."""
    def switch_on(probability, **ranges):
        for name in PROBABILITIES:
            monkeypatch.setattr(augment, name, 1.0 if name == probability else 0.0)
        for name, value in ranges.items():
            monkeypatch.setattr(augment, name, value)
    return switch_on


def test_the_batch_keeps_its_shape_dtype_and_range_and_the_input_is_untouched():
    views = _views(16)
    original = views.clone()
    out = photometric_augmentation(views, _generator())
    assert out.shape == views.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(views, original) and not torch.equal(out, views)


def test_a_generator_seed_fixes_the_result_and_the_state_depends_only_on_the_shape():
    views = _views(16)
    first, second = _generator(3), _generator(3)
    assert torch.equal(photometric_augmentation(views, first), photometric_augmentation(views, second))
    assert not torch.equal(photometric_augmentation(views, _generator(3)),
                           photometric_augmentation(views, _generator(4)))
    photometric_augmentation(views, first)
    photometric_augmentation(torch.zeros_like(views), second)
    assert torch.equal(first.get_state(), second.get_state())


def test_with_every_perturbation_off_the_views_pass_unchanged(only):
    only(None)
    views = _views()
    assert torch.equal(photometric_augmentation(views, _generator()), views)


def test_a_gain_above_one_brightens_and_saturates_like_the_benchmarks_light(only):
    only("GAIN_PROBABILITY", GAIN_RANGE=(1.3, 1.3))
    views = _views()
    out = photometric_augmentation(views, _generator())
    assert torch.allclose(out, (1.3 * views).clamp(0, 1))
    assert out.mean() > views.mean() and (out == 1).float().mean() > 0.2


def test_an_offset_shifts_every_pixel_alike(only):
    only("OFFSET_PROBABILITY")
    out = photometric_augmentation(torch.full((8, 1, 32, 32), 0.5), _generator())
    shifts = out - 0.5
    low, high = augment.OFFSET_RANGE
    assert torch.allclose(shifts, shifts[:, :, :1, :1].expand_as(shifts), atol=1e-6)
    assert shifts.min() >= low - 1e-6 and shifts.max() <= high + 1e-6 and shifts.abs().max() > 0


def test_a_gradient_is_a_plane_through_the_centre_intensity(only):
    only("GRADIENT_PROBABILITY", GRADIENT_RANGE=(0.4, 0.4))
    size = 32
    out = photometric_augmentation(torch.full((8, 1, size, size), 0.5), _generator())[:, 0]
    rows, cols = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                                torch.arange(size, dtype=torch.float32), indexing="ij")
    design = torch.stack([torch.ones(size * size), rows.flatten(), cols.flatten()], 1)
    for image in out:
        plane = torch.linalg.lstsq(design, image.flatten().unsqueeze(1)).solution
        assert torch.allclose(design @ plane, image.flatten().unsqueeze(1), atol=1e-5)
        assert image.mean() == pytest.approx(0.5, abs=1e-5)
        assert image.max() - image.min() > 0.5 * 0.4 * 0.9  # across the view, whichever direction


def test_noise_has_the_drawn_standard_deviation(only):
    only("NOISE_PROBABILITY", NOISE_STD_RANGE=(0.02, 0.02))
    out = photometric_augmentation(torch.full((8, 1, 32, 32), 0.5), _generator())
    assert (out - 0.5).std().item() == pytest.approx(0.02, rel=0.05)
    assert (out - 0.5).mean().abs() < 0.002


def test_blur_smooths_the_view_but_keeps_its_mean_and_a_flat_view(only):
    only("BLUR_PROBABILITY")
    views = _views()
    out = photometric_augmentation(views, _generator())
    assert (out.std(dim=(1, 2, 3)) < 0.8 * views.std(dim=(1, 2, 3))).all()
    assert torch.allclose(out.mean(dim=(1, 2, 3)), views.mean(dim=(1, 2, 3)), atol=0.01)
    flat = torch.full((4, 1, 32, 32), 0.3)
    assert torch.allclose(photometric_augmentation(flat, _generator()), flat, atol=1e-6)


def test_an_occluder_is_one_constant_rectangle_of_the_drawn_share_of_the_view(only):
    only("OCCLUDER_PROBABILITY")
    views = _views(16)
    out = photometric_augmentation(views, _generator())
    low, high = augment.OCCLUDER_AREA_RANGE
    greys = []
    for image, clean in zip(out[:, 0], views[:, 0]):
        changed = (image != clean).nonzero()
        (top, left), (bottom, right) = changed.min(0).values, changed.max(0).values
        rectangle = image[top:bottom + 1, left:right + 1]
        assert torch.all(rectangle == rectangle[0, 0])
        assert 0.5 * low <= rectangle.numel() / image.numel() <= 1.3 * high
        greys.append(rectangle[0, 0].item())
    assert len(set(greys)) == len(greys)  # each its own grey level


def test_the_ranges_cover_the_robustness_benchmarks_levels():
    levels = [imperfections for condition in CONDITIONS.values() for imperfections in condition.values()]
    covered = {"gain": augment.GAIN_RANGE, "noise_std": augment.NOISE_STD_RANGE,
               "gradient": augment.GRADIENT_RANGE, "occlusion": augment.OCCLUDER_AREA_RANGE}
    for imperfections in levels:
        for name, (low, high) in covered.items():
            if name in imperfections:
                assert low <= imperfections[name] <= high, (name, imperfections[name])
    grey = CameraImperfections().occlusion_intensity
    assert augment.OCCLUDER_GREY_RANGE[0] <= grey <= augment.OCCLUDER_GREY_RANGE[1]


class _Recorder(torch.nn.Module):
    """A one-parameter 'autoencoder' that remembers what it was given."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.inputs = []

    def forward(self, images):
        self.inputs.append(images.detach().clone())
        return self.scale * images


def test_training_feeds_the_perturbed_views_and_scores_against_the_clean_ones(tmp_path):
    config = _tiny_config(tmp_path, augment=True)
    views = (_views(20) * 255).to(torch.uint8)[:, 0]
    model, targets = _Recorder(), []

    def loss_function(reconstruction, target):
        targets.append(target.clone())
        return ((reconstruction - target) ** 2).mean()

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    order = torch.arange(len(views))
    _run_epoch(model, _Views(views, loss_function), order, config, _Process(), optimizer, perturbation=_generator())
    assert all(not torch.equal(given, target) for given, target in zip(model.inputs, targets))
    assert torch.equal(torch.cat(targets), views.unsqueeze(1).float() / 255)
    assert model.scale.item() != 1.0

    model.inputs.clear()
    targets.clear()
    _run_epoch(model, _Views(views, loss_function), order, config, _Process())  # validation: clean views
    assert torch.equal(torch.cat(model.inputs), torch.cat(targets))


def test_each_process_perturbs_its_share_differently_from_one_shared_state():
    shared = [_generator(5), _generator(5)]
    first, second = (_epoch_perturbation(generator, _Process(rank=rank))
                     for rank, generator in enumerate(shared))
    assert not torch.equal(first.get_state(), second.get_state())
    assert torch.equal(shared[0].get_state(), shared[1].get_state())


def _weights(path):
    return torch.load(path, weights_only=True)["model"]


def _one_thread_config(path, **changes):
    """A tiny run on one thread: two threads on a busy 2-core machine make an epoch seconds long."""
    return _tiny_config(path, threads=1, **changes)


def test_an_augmented_run_checkpoints_its_generator_and_resumes_exactly(tmp_path):
    straight = _one_thread_config(tmp_path / "straight", augment=True, epochs=2)
    train(straight)
    interrupted = _one_thread_config(tmp_path / "interrupted", augment=True)
    train(interrupted)
    checkpoint = torch.load(Path(interrupted.work_dir) / CHECKPOINT_NAME, weights_only=True)
    assert "augment_rng" in checkpoint and checkpoint["train_config"]["augment"] is True
    train(_one_thread_config(tmp_path / "interrupted", augment=True, epochs=2), resume=True)
    resumed = _weights(Path(interrupted.work_dir) / CHECKPOINT_NAME)
    expected = _weights(Path(straight.work_dir) / CHECKPOINT_NAME)
    assert all(torch.equal(expected[name], resumed[name]) for name in expected)

    clean = _one_thread_config(tmp_path / "clean", epochs=2)
    train(clean)
    unaugmented = _weights(Path(clean.work_dir) / CHECKPOINT_NAME)
    assert not all(torch.equal(expected[name], unaugmented[name]) for name in expected)


def test_a_checkpoint_from_before_augment_existed_resumes_unaugmented(tmp_path):
    first = _one_thread_config(tmp_path)
    train(first)
    path = Path(first.work_dir) / CHECKPOINT_NAME
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["train_config"]["augment"], checkpoint["augment_rng"]
    torch.save(checkpoint, path)
    assert train(_one_thread_config(tmp_path, epochs=2), resume=True).epochs == 2
    with pytest.raises(ConfigurationError, match="augment"):
        train(_one_thread_config(tmp_path, epochs=3, augment=True), resume=True)
