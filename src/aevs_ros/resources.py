"""The shipped model files, found in the checkout or in the installed share directory, and which
one a learned family uses when the user names none."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import share_dir
from .core.features.registry import FAMILIES


def default_model_path(method: str) -> Path | None:
    """The shipped model of a learned feature family (registry: ``default_model``), or None if
    the family ships none or it is not installed."""
    return _shipped(method, "default_model")


def general_model_path(method: str) -> Path | None:
    """The shipped model of a family for any scene (registry: ``general_model``), or None."""
    return _shipped(method, "general_model")


def _shipped(method: str, kind: str) -> Path | None:
    entry = FAMILIES.get(method)
    relative = None if entry is None else getattr(entry, kind)
    if relative is None:
        return None
    path = share_dir() / relative
    return path if path.exists() else None


@dataclass(frozen=True)
class ModelChoice:
    path: Path | None  #: None: the family reads no model, or none is installed
    reason: str  #: one line for the log and the outcome JSON

    def record(self) -> dict:
        return {"model": None if self.path is None else str(self.path), "model_choice": self.reason}


def choose_model(method: str, scene_fingerprint: str | None) -> ModelChoice:
    """The model a learned family uses when none is named: the shipped per-scene model on the
    scene it was trained on, the general model anywhere else (a scene of unknown fingerprint,
    such as a real camera's, included); README "Which model" has the numbers behind the rule."""
    per_scene, general = default_model_path(method), general_model_path(method)
    if per_scene is None and general is None:
        return ModelChoice(None, f"no {method} model installed" if method in FAMILIES and
                           FAMILIES[method].needs_model else f"{method} reads no model file")
    if per_scene is not None and (general is None or scene_fingerprint and scene_fingerprint ==
                                  FAMILIES[method].feature_class().model_scene_fingerprint(per_scene)):
        why = "the scene it was trained on" if general is not None else "no general model installed"
        return ModelChoice(per_scene, f"{per_scene.name}: {why}")
    if per_scene is None:
        return ModelChoice(general, f"{general.name}: no per-scene model installed")
    where = f"scene {scene_fingerprint}" if scene_fingerprint else "a scene of unknown fingerprint (a real camera)"
    return ModelChoice(general, f"{general.name}: {where} is not the one {per_scene.name} was trained on")
