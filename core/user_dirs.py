"""Per-user folders (settings, caches, autosave), from platformdirs.

Each can be moved with an environment variable (tests point them at temporary folders):
``IMG2IMG_STUDIO_CONFIG_DIR``, ``IMG2IMG_STUDIO_CACHE_DIR``, ``IMG2IMG_STUDIO_DATA_DIR``,
``IMG2IMG_STUDIO_LOG_DIR``. Otherwise
platformdirs picks the platform's place (on Linux it honours ``XDG_CONFIG_HOME`` and friends).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "img2img-studio"


def _folder(env: str, default: str, create: bool) -> Path:
    folder = Path(os.environ.get(env) or default)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def user_config_dir(create: bool = False) -> Path:
    """Where settings live."""
    return _folder("IMG2IMG_STUDIO_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME), create)


def user_cache_dir(create: bool = True) -> Path:
    """Where small caches live (file hashes, assembled model configs)."""
    return _folder("IMG2IMG_STUDIO_CACHE_DIR", platformdirs.user_cache_dir(APP_NAME), create)


def user_data_dir(create: bool = True) -> Path:
    """Where the app keeps user data (autosaved sessions)."""
    return _folder("IMG2IMG_STUDIO_DATA_DIR", platformdirs.user_data_dir(APP_NAME), create)


def user_log_dir(create: bool = True) -> Path:
    """Where the log file lives (what libraries report that says nothing to a user)."""
    return _folder("IMG2IMG_STUDIO_LOG_DIR", platformdirs.user_log_dir(APP_NAME), create)
