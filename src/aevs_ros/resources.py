"""Where the bundled files (models, config) are: a source checkout or an installed share dir."""
from __future__ import annotations

import os
from pathlib import Path


def _roots() -> list[Path]:
    roots = []
    if os.environ.get("AEVS_ROOT"):
        roots.append(Path(os.environ["AEVS_ROOT"]))
    roots.append(Path(__file__).resolve().parents[2])  # source checkout: <root>/src/aevs_ros
    try:
        from ament_index_python.packages import get_package_share_directory

        roots.append(Path(get_package_share_directory("aevs_ros")))
    except Exception:  # not on a ROS install, or the package is not installed there
        pass
    return roots


def find_resource(relative: str) -> Path | None:
    """First existing ``<root>/relative`` (e.g. 'models/aevs_default.pt'), else None."""
    for root in _roots():
        candidate = root / relative
        if candidate.exists():
            return candidate
    return None


def default_model_path(method: str) -> Path | None:
    """The shipped model of a learned feature family, or None if it is not there."""
    names = {"aevs": "models/aevs_default.pt", "pca": "models/pca_default.npz"}
    return find_resource(names[method]) if method in names else None
