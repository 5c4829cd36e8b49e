"""PCA-VS and DCT-VS features: the properties ViSP's catchLuminanceMapping checks, plus L_s
against finite differences of rendered images."""
import numpy as np
import pytest
from scipy.fft import dctn

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError, ModelError
from aevs_ros.core.features import make_feature
from aevs_ros.core.features.dct import DCTFeature, zigzag_indices
from aevs_ros.core.features.pca import PCAFeature
from aevs_ros.core.photometric import photometric_interaction
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.dataset import ViewSampling, render_views

SIZE = 64
DIM = 16
GOAL = se3.look_at((0.0, 0.0, 0.6), (0.0, 0.0, 0.0))


@pytest.fixture(scope="module")
def camera():
    return default_camera(SIZE)


@pytest.fixture(scope="module")
def scene():
    return PlanarScene.load()


@pytest.fixture(scope="module")
def training_views(scene, camera):
    """Views near the goal, so a small basis covers the poses the tests render."""
    sampling = ViewSampling(camera_half_extent_m=0.1, camera_height_min_m=0.55,
                            camera_height_max_m=0.65, max_roll_deg=10.0)
    images, _ = render_views(scene, camera, 150, seed=1, sampling=sampling, progress=False)
    return images


@pytest.fixture(scope="module")
def pca(training_views, camera, scene):
    return PCAFeature.fit(training_views, camera, DIM, scene_fingerprint=scene.fingerprint)


@pytest.fixture(scope="module")
def goal_image(scene, camera):
    return scene.render(camera, GOAL).image


def test_zigzag_is_jpeg_order():
    rows, cols = zigzag_indices(4, 4)
    assert list(zip(rows, cols))[:10] == [(0, 0), (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3),
                                          (1, 2), (2, 1), (3, 0)]
    rows, cols = zigzag_indices(3, 5)
    assert sorted(zip(rows, cols)) == [(r, c) for r in range(3) for c in range(5)]
    assert np.all(np.diff(rows + cols) >= 0)


def test_dct_matches_scipy_at_zigzag_indices(camera, goal_image):
    feature = DCTFeature(camera, dim=DIM)
    border = feature.border
    spectrum = dctn(goal_image[border:-border, border:-border].astype(np.float64), norm="ortho")
    rows, cols = zigzag_indices(*spectrum.shape)
    sample = feature.compute(goal_image)
    assert feature.dim == DIM and sample.s.shape == (DIM,) and sample.L.shape == (DIM, 6)
    np.testing.assert_allclose(sample.s, spectrum[rows[:DIM], cols[:DIM]], atol=1e-9)


def test_dct_interaction_is_dct_of_each_photometric_column(camera, goal_image):
    feature = DCTFeature(camera, dim=DIM)
    border = feature.border
    photometric = photometric_interaction(goal_image, camera, 0.6, border)
    planes = photometric.T.reshape(6, SIZE, SIZE)[:, border:-border, border:-border]
    spectra = dctn(planes, norm="ortho", axes=(1, 2))
    expected = spectra[:, feature.frequencies[:, 0], feature.frequencies[:, 1]].T
    np.testing.assert_allclose(feature.compute(goal_image).L, expected, atol=1e-9)


def test_dct_reconstruction_is_the_low_pass_image(camera, goal_image):
    full = DCTFeature(camera, dim=(SIZE - 6) ** 2)
    np.testing.assert_allclose(full.reconstruct(full.map(goal_image))[3:-3, 3:-3],
                               goal_image[3:-3, 3:-3], atol=1e-5)
    errors = [np.abs(DCTFeature(camera, dim=dim).reconstruct(DCTFeature(camera, dim=dim).map(goal_image))
                     - goal_image)[3:-3, 3:-3].mean() for dim in (8, 64, 512)]
    assert errors[0] > errors[1] > errors[2]


def test_pca_sizes_and_sorted_explained_variance(pca, camera):
    interior = (SIZE - 2 * pca.border) ** 2
    assert pca.dim == DIM and pca.components.shape == (DIM, interior) and pca.mean.shape == (interior,)
    assert np.all(np.diff(pca.explained_variance) <= 0) and 0 < pca.explained_variance.sum() <= 1
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(DIM), atol=1e-5)


def test_pca_reconstruction_error_is_bounded(pca, goal_image, training_views):
    """Reconstruction beats the mean image and keeps the share of variance the basis explains."""
    inside = (slice(3, -3), slice(3, -3))
    residual = pca.reconstruct(pca.map(goal_image))[inside] - goal_image[inside]
    around_mean = goal_image[inside] - pca.mean.reshape(SIZE - 6, SIZE - 6)
    assert np.mean(residual ** 2) < 0.5 * np.mean(around_mean ** 2)
    views = training_views[:20].astype(np.float32) / 255
    kept = [np.mean((pca.reconstruct(pca.map(v))[inside] - v[inside]) ** 2) for v in views]
    spread = [np.mean((v[inside] - pca.mean.reshape(SIZE - 6, SIZE - 6)) ** 2) for v in views]
    assert np.sum(kept) / np.sum(spread) < 1 - 0.5 * pca.explained_variance.sum()


def test_pca_interaction_is_basis_times_photometric(pca, camera, goal_image):
    photometric = photometric_interaction(goal_image, camera, 0.6, pca.border)
    interior_rows = photometric.reshape(SIZE, SIZE, 6)[3:-3, 3:-3].reshape(-1, 6)
    np.testing.assert_allclose(pca.compute(goal_image).L, pca.components @ interior_rows, atol=1e-9)


def test_pca_save_load_round_trip(pca, camera, goal_image, tmp_path):
    path = tmp_path / "basis.npz"
    pca.save(path)
    loaded = make_feature("pca", camera, 0.6, model_path=path)
    np.testing.assert_allclose(loaded.map(goal_image), pca.map(goal_image), atol=1e-4)
    assert loaded.scene_fingerprint == pca.scene_fingerprint
    assert PCAFeature.load(path, camera, dim=8).dim == 8


def test_pca_load_errors(pca, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        PCAFeature.load(tmp_path / "missing.npz", default_camera(SIZE))
    pca.save(tmp_path / "basis.npz")
    with pytest.raises(ModelError, match="64x64"):
        PCAFeature.load(tmp_path / "basis.npz", default_camera(32))
    (tmp_path / "junk.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(ModelError, match="cannot read"):
        PCAFeature.load(tmp_path / "junk.npz", default_camera(SIZE))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "basis.npz").read_bytes()[:3000])
    with pytest.raises(ModelError, match="cannot read"):
        PCAFeature.load(tmp_path / "cut.npz", default_camera(SIZE))
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ModelError, match="not a PCA basis"):
        PCAFeature.load(tmp_path / "other.npz", default_camera(SIZE))


@pytest.mark.parametrize("dim", [0, 5, 10_000, 2.5])
def test_bad_dimensions_raise(dim, camera, training_views, pca, tmp_path):
    with pytest.raises(ConfigurationError):
        DCTFeature(camera, dim=dim)
    with pytest.raises(ConfigurationError):
        PCAFeature.fit(training_views[:40], camera, dim)
    pca.save(tmp_path / "basis.npz")
    with pytest.raises(ConfigurationError):
        PCAFeature.load(tmp_path / "basis.npz", camera, dim=dim)


def test_bad_border_raises(camera):
    with pytest.raises(ConfigurationError):
        DCTFeature(camera, border=1)


def finite_difference_interaction(feature, scene, camera, pose, step_m=1e-3, step_rad=np.radians(0.1)):
    """(k, 6): central differences of s over camera-frame motions of the rendered view."""
    columns = []
    for axis in range(6):
        step = step_m if axis < 3 else step_rad
        twist = np.zeros(6)
        twist[axis] = step
        plus = feature.map(scene.render(camera, se3.integrate(pose, twist, 1.0)).image)
        minus = feature.map(scene.render(camera, se3.integrate(pose, -twist, 1.0)).image)
        columns.append((plus - minus) / (2 * step))
    return np.column_stack(columns)


@pytest.mark.parametrize("family", ["dct", "pca"])
def test_interaction_matches_finite_differences(family, pca, scene, camera, goal_image):
    feature = pca if family == "pca" else DCTFeature(camera, dim=DIM)
    analytic = feature.compute(goal_image).L
    numeric = finite_difference_interaction(feature, scene, camera, GOAL)
    for axis in range(6):
        correlation = np.corrcoef(analytic[:, axis], numeric[:, axis])[0, 1]
        assert correlation > 0.95, f"{family} DOF {axis}: correlation {correlation:.3f}"
