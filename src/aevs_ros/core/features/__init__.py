"""Visual feature families: each turns an image into features s and their interaction matrix.

Which families exist, and how to build one by name, is the registry's (registry.py).
"""
from .registry import FEATURE_FAMILIES, make_feature

__all__ = ["FEATURE_FAMILIES", "make_feature"]
