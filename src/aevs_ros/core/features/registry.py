"""Every feature family, one line each: what every command, node and benchmark asks about a family.

An entry names the family, the module and class under ``aevs_ros.core.features`` that implement
it, whether it reads a model file (a learned basis or network), the model shipped in ``models/``
and whether it computes with torch. How to build the family and how to read the input size of
its model file are the class's own (:meth:`Feature.build`, :meth:`Feature.model_input_shape`).

Adding a family is one module under ``core/features/`` and one line in :data:`FAMILIES`. This
module imports no family (nor numpy): the command line reads it on every call.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import ConfigurationError


@dataclass(frozen=True)
class FeatureFamily:
    name: str  #: the ``--method`` / ``method`` parameter value
    module: str  #: module under aevs_ros.core.features
    class_name: str  #: its Feature subclass
    needs_model: bool = False  #: reads a model file (``model_path``)
    default_model: str | None = None  #: the shipped model, relative to the share directory
    #: the shipped model for any scene, used where the scene is not default_model's (resources.choose_model)
    general_model: str | None = None
    uses_torch: bool = False  #: computes with torch (its thread count is torch's)

    def feature_class(self):
        """The family's Feature subclass (imports its module)."""
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.class_name)


FAMILIES = {family.name: family for family in (
    FeatureFamily("dvs", "dvs", "PhotometricFeature"),
    FeatureFamily("pca", "pca", "PCAFeature", needs_model=True, default_model="models/pca_default.npz",
                  general_model="models/pca_general.npz"),
    FeatureFamily("dct", "dct", "DCTFeature"),
    FeatureFamily("aevs", "autoencoder", "AutoencoderFeature", needs_model=True,
                  default_model="models/aevs_default.pt", general_model="models/aevs_general.pt",
                  uses_torch=True),
    FeatureFamily("siame", "siame", "SiameFeature", needs_model=True, default_model="models/siame_default.pt",
                  uses_torch=True),
)}
FEATURE_FAMILIES = tuple(FAMILIES)
#: the families that read a model file
LEARNED_FAMILIES = tuple(name for name, family in FAMILIES.items() if family.needs_model)


def family(name: str) -> FeatureFamily:
    """The registry entry of ``name``; ConfigurationError naming the choices if there is none."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown feature family {name!r}: choose one of {', '.join(FEATURE_FAMILIES)}") from None


def make_feature(name: str, camera, depth: float = 0.6, *, model_path=None, border: int | None = None,
                 **options):
    """Build a feature family by name; ``model_path`` is its model file (families that read one),
    ``border`` the image border left out (default: the photometric one), ``options`` the
    family's own (``dim`` for pca and dct)."""
    feature_class = family(name).feature_class()
    return feature_class.build(camera, depth, model_path=model_path,
                               **({} if border is None else {"border": border}), **options)


def model_input_shape(name: str, model_path) -> tuple[int, int] | None:
    """(h, w) of the images the model file of a learned family takes; None for the other families.

    Raises ModelError if the file is missing or unreadable, so that a node refuses to start
    instead of faulting on every frame.
    """
    entry = family(name)
    return entry.feature_class().model_input_shape(model_path) if entry.needs_model else None
