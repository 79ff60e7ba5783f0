"""Errors a user can cause and fix. Each carries a one-line message meant to be shown as is."""


class UserError(Exception):
    """A mistake in the user's input: shown as one line, never as a traceback."""


class InvalidRequest(UserError):
    """A pass request with values outside their allowed range."""


class ImageError(UserError):
    """An image or mask that cannot be read or is too large."""


class ModelError(UserError):
    """A model reference that cannot be resolved or loaded."""


class ProjectError(UserError):
    """A project or autosave file that cannot be read or written."""


class PassCancelled(Exception):
    """Raised by the engine when a pass was cancelled; no output exists."""
