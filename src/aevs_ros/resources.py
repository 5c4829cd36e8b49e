"""The shipped model files, found in the checkout or in the installed share directory."""
from __future__ import annotations

from pathlib import Path

from . import share_dir
from .core.features.registry import FAMILIES


def default_model_path(method: str) -> Path | None:
    """The shipped model of a learned feature family (registry: ``default_model``), or None if
    the family ships none or it is not installed."""
    entry = FAMILIES.get(method)
    if entry is None or entry.default_model is None:
        return None
    path = share_dir() / entry.default_model
    return path if path.exists() else None
