"""PCA-VS (Marchand, RA-L 2019): servo on the projection of the image onto a learned basis.

w = Uᵀ (I − Ī) and L_w = Uᵀ L_I (the paper's Eq. 6), with U the D principal directions of a
set of training views of the scene and Ī their mean. As in ViSP's vpLuminancePCA the mapping
sees only the interior of the image (the ``border`` where L_I is undefined is left out), so
every pixel that moves s also has a valid row in L_I.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from scipy.sparse.linalg import svds

from ..camera import PinholeCamera
from ..errors import ModelError
from ..photometric import DEFAULT_BORDER, border_mask, check_image
from .base import ImageMapping, check_dim

#: Bumped when the layout of the .npz file changes.
FILE_FORMAT_VERSION = 1


class PCAFeature(ImageMapping):
    """The projection of the interior of the image onto D principal directions."""

    name = "pca"

    def __init__(self, camera: PinholeCamera, depth: float, border: int, components: np.ndarray,
                 mean: np.ndarray, explained_variance: np.ndarray, scene_fingerprint: str = ""):
        super().__init__(camera, depth, border)
        self._inside = border_mask(camera.shape, border).ravel()
        self.components = components  #: (D, interior pixels) orthonormal rows, largest variance first
        self.mean = mean  #: (interior pixels,) mean training view
        self.explained_variance = explained_variance  #: (D,) share of the data's variance per component
        self.scene_fingerprint = scene_fingerprint
        # the basis over the whole image, zero on the border: one product gives w or L_w, with
        # no cropping of the image or of L_I (whose border rows are zero) on every frame
        self._basis = np.zeros((len(components), self._inside.size))
        self._basis[:, self._inside] = components
        self._projected_mean = components @ mean

    @property
    def dim(self) -> int:
        return len(self.components)

    def map(self, image: np.ndarray) -> np.ndarray:
        return self._basis @ image.ravel() - self._projected_mean

    def interaction(self, image: np.ndarray, photometric: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self._basis @ photometric

    def reconstruct(self, s: np.ndarray) -> np.ndarray:
        """Ī + U s on the interior (the border stays 0): the image the features stand for."""
        image = np.zeros(self._inside.size, np.float32)
        image[self._inside] = self.mean + self.components.T @ np.asarray(s, dtype=np.float64)
        return image.reshape(self.camera.shape)

    @classmethod
    def fit(cls, images, camera: PinholeCamera, dim: int = 32, depth: float = 0.6,
            border: int = DEFAULT_BORDER, scene_fingerprint: str = "", seed: int = 0) -> "PCAFeature":
        """Learn the basis from training views (an (N, h, w) array or a sequence of images).

        A truncated SVD (ARPACK, seeded) of the centred data gives the D leading directions
        without a full decomposition; each direction's sign is fixed (largest weight positive)
        so the same images always give the same file.
        """
        inside = border_mask(camera.shape, border).ravel()
        data = np.stack([check_image(image, camera.shape).ravel()[inside] for image in images])
        dim = check_dim(dim, min(data.shape) - 1, "PCA")
        mean = data.mean(axis=0, dtype=np.float64)
        data -= mean.astype(np.float32)  # centred in place: the data can take GBs
        _, singular_values, components = svds(data, k=dim, random_state=np.random.default_rng(seed))
        order = np.argsort(singular_values)[::-1]
        singular_values, components = singular_values[order].astype(np.float64), components[order]
        components = components.astype(np.float64)
        components *= np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])[:, None]
        total_variance = sum(float(np.dot(row, row)) for row in data)
        return cls(camera, depth, border, components, mean, singular_values ** 2 / total_variance,
                   scene_fingerprint)

    def save(self, path: str | Path) -> None:
        """Write the basis (float32), mean, image size, border, explained variance and scene."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, format_version=FILE_FORMAT_VERSION, components=self.components.astype(np.float32),
            mean=self.mean.astype(np.float32), explained_variance=self.explained_variance,
            image_size=np.array(self.camera.shape), border=self.border,
            scene_fingerprint=self.scene_fingerprint)

    @staticmethod
    def model_input_shape(model_path: str | Path | None) -> tuple[int, int]:
        """(h, w) of the images the basis at ``model_path`` was fitted on (ModelError if unreadable)."""
        return tuple(int(n) for n in _read_basis(model_path)[1]["image_size"])

    @staticmethod
    def model_scene_fingerprint(model_path: str | Path | None) -> str:
        return str(_read_basis(model_path)[1]["scene_fingerprint"])

    @classmethod
    def build(cls, camera: PinholeCamera, depth: float = 0.6, *, model_path=None,
              border: int = DEFAULT_BORDER, **options) -> "PCAFeature":
        return cls.load(model_path, camera, depth, border=border, **options)

    @classmethod
    def load(cls, path: str | Path | None, camera: PinholeCamera, depth: float = 0.6,
             border: int = DEFAULT_BORDER, dim: int | None = None) -> "PCAFeature":
        """Read a basis written by :meth:`save`; ``dim`` keeps only its first components.

        Raises ModelError if the file is missing or unreadable, or was fitted for another
        image size or border than ``camera`` and ``border``.
        """
        path, stored = _read_basis(path)
        fitted_shape = tuple(int(n) for n in stored["image_size"])
        if fitted_shape != camera.shape or int(stored["border"]) != border:
            raise ModelError(
                f"PCA basis {path} was fitted on {fitted_shape[1]}x{fitted_shape[0]} images with a "
                f"{int(stored['border'])}-pixel border; this camera gives {camera.width}x{camera.height} "
                f"with a {border}-pixel border")
        components, mean = stored["components"].astype(np.float64), stored["mean"].astype(np.float64)
        interior = (camera.height - 2 * border) * (camera.width - 2 * border)
        if components.ndim != 2 or components.shape[1] != interior or mean.shape != (interior,):
            raise ModelError(f"{path} is damaged: its basis {components.shape} and mean {mean.shape} "
                             f"do not cover the {interior} interior pixels it was fitted on")
        keep = check_dim(dim, len(components), "PCA") if dim is not None else len(components)
        return cls(camera, depth, border, components[:keep], mean,
                   stored["explained_variance"][:keep], str(stored["scene_fingerprint"]))


def _read_basis(path: str | Path | None) -> tuple[Path, dict]:
    """The arrays of a basis file, checked for format; ModelError saying why if unusable."""
    if path is None:
        raise ModelError("PCA needs a basis file: build one with `aevs bench fit-pca --out PATH`")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"PCA basis not found: {path} (build one with "
                         f"`aevs bench fit-pca --out {path}`)")
    try:
        with np.load(path) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read PCA basis {path}: {exc}") from exc
    missing = {"format_version", "components", "mean", "explained_variance", "image_size", "border",
               "scene_fingerprint"} - stored.keys()
    if missing or int(stored["format_version"]) != FILE_FORMAT_VERSION:
        raise ModelError(f"{path} is not a PCA basis of format {FILE_FORMAT_VERSION} "
                         f"(missing {', '.join(sorted(missing)) or 'nothing'}); rebuild it with fit-pca")
    return path, stored
