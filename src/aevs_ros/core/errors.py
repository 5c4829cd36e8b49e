"""Typed errors of the core: nodes and commands catch AevsError and report its message."""


class AevsError(Exception):
    """Base class: a problem with the caller's input or files, explained in the message."""


class InvalidImageError(AevsError, ValueError):
    """An image of the wrong shape, dtype or encoding, or one holding NaN/inf."""


class SceneError(AevsError):
    """A scene image that cannot be read, or a view that sees none of the scene."""


class ModelError(AevsError):
    """A missing, unreadable or incompatible model file."""


class ConfigurationError(AevsError, ValueError):
    """Parameters that are out of range or inconsistent with each other."""
