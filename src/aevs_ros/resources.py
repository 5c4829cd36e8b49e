"""The shipped model files, found in the checkout or in the installed share directory."""
from __future__ import annotations

from pathlib import Path

from . import share_dir

SHIPPED_MODELS = {"aevs": "models/aevs_default.pt", "pca": "models/pca_default.npz"}


def default_model_path(method: str) -> Path | None:
    """The shipped model of a learned feature family, or None if there is none installed."""
    if method not in SHIPPED_MODELS:
        return None
    path = share_dir() / SHIPPED_MODELS[method]
    return path if path.exists() else None
