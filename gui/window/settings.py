"""The app's name and user settings: one typed object with defaults and a schema version, saved
as JSON.

The file lives in ``core.user_dirs.user_config_dir()`` (``$IMG2IMG_STUDIO_CONFIG_DIR`` when set;
tests set it to a temporary folder).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic_io import atomic_write_text, write_error
from core.user_dirs import user_config_dir

APP_NAME = "Img2Img Studio"  # window titles, the command line's help, exported indexes
SCHEMA_VERSION = 1
SETTINGS_FILE = "settings.json"
MAX_RECENT_MODELS = 10


def config_dir() -> Path:
    """The folder settings are stored in (not created here)."""
    return user_config_dir(create=False)


@dataclass
class Settings:
    """Everything remembered between runs. ``changed`` callbacks run after ``save``."""

    schema_version: int = SCHEMA_VERSION
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    last_model: str = ""
    last_model_config: str = ""
    recent_models: list[str] = field(default_factory=list)
    last_folder: str = ""
    last_params: dict[str, Any] = field(default_factory=dict)
    recent_projects: list[str] = field(default_factory=list)  # newest first (project_actions)
    # Where Generate runs (gui.window.remote_wiring): "local" or "remote", the worker's URL and
    # model, and the local model to return to. The worker's token is never saved.
    worker_mode: str = "local"
    worker_url: str = ""
    worker_model: str = ""
    worker_local_model: str = ""
    # Load the chosen model in the background before the first Generate (gui.run.warm_up).
    warm_up: bool = True
    path: Path | None = field(default=None, repr=False, compare=False)
    changed: list[Callable[[Settings], None]] = field(
        default_factory=list, repr=False, compare=False
    )

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings from ``path`` (default: the config folder); defaults when unreadable."""
        path = Path(path) if path else config_dir() / SETTINGS_FILE
        settings = cls(path=path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return settings
        except (OSError, ValueError) as exc:
            print(f"img2img-studio: ignoring unreadable settings {path}: {exc}", file=sys.stderr)
            return settings
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            return settings  # unknown or older schema: start from defaults
        for f in cls._stored_fields():
            if f.name in data and isinstance(data[f.name], type(getattr(settings, f.name))):
                setattr(settings, f.name, data[f.name])
        settings.recent_models = [str(m) for m in settings.recent_models][:MAX_RECENT_MODELS]
        return settings

    @classmethod
    def _stored_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.name not in ("path", "changed")]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self._stored_fields()}

    def save(self) -> str | None:
        """Write the settings file atomically; returns None, or the one-line error (also printed
        to stderr; never raised). A failed save leaves the previous file as it was."""
        path = self.path or config_dir() / SETTINGS_FILE
        try:
            atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        except OSError as exc:
            message = f"settings not saved: {write_error(path, exc)}"
            print(f"img2img-studio: {message}", file=sys.stderr)
            return message
        for callback in list(self.changed):
            callback(self)
        return None

    def remember_model(self, reference: str, config: str = "") -> None:
        """Make ``reference`` the last model and move it to the front of the recent list."""
        if not reference:
            return
        self.last_model = reference
        self.last_model_config = config
        recent = [m for m in self.recent_models if m != reference]
        self.recent_models = [reference, *recent][:MAX_RECENT_MODELS]
