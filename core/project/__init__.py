"""Sessions on disk: project files (``.i2i``) and autosaves with crash recovery."""

from core.project.autosave import AutosaveStore
from core.project.files import (
    PROJECT_SUFFIX,
    UnreadableProject,
    is_project_file,
    load_project,
    save_project,
)
from core.project.schema import MIGRATIONS, SCHEMA_VERSION
from core.project.session import Session

__all__ = [
    "MIGRATIONS",
    "PROJECT_SUFFIX",
    "SCHEMA_VERSION",
    "AutosaveStore",
    "Session",
    "UnreadableProject",
    "is_project_file",
    "load_project",
    "save_project",
]
