"""Help › About: the app's version and the versions and device it runs with.

Nothing here imports torch: versions come from the installed packages' metadata, the device and
precision from the last pass's record (the worker loads torch lazily), or the panel's choice
before the first pass.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from gui.qt_helpers import named, plain
from gui.window.app_icon import app_icon
from gui.window.settings import APP_NAME

# (label, distribution names tried in order)
PACKAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (APP_NAME, ("img2img-studio",)),
    ("torch", ("torch",)),
    ("diffusers", ("diffusers",)),
    ("transformers", ("transformers",)),
    ("Qt for Python", ("PySide6-Essentials", "PySide6")),
)
NOT_INSTALLED = "not installed"


def package_version(*names: str) -> str:
    """The installed version of the first distribution found, or ``NOT_INSTALLED``."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return NOT_INSTALLED


def runtime_rows(
    last_pass: Mapping[str, Any] | None, device: str, dtype: str
) -> list[tuple[str, str]]:
    """Device, precision and memory mode: those the last pass recorded, else the panel's choice."""
    model = (last_pass or {}).get("model") or {}
    used_device = (last_pass or {}).get("device") or model.get("device")
    used_dtype = (last_pass or {}).get("dtype") or model.get("dtype")
    if last_pass is None:
        note = " (chosen; no pass has run yet)"
    elif not (used_device and used_dtype):
        note = " (chosen; the last pass did not record it)"
    else:
        note = " (last pass)"
    rows = [
        ("Device", f"{used_device or device}{'' if used_device else note}"),
        ("Precision", f"{used_dtype or dtype}{'' if used_dtype else note}"),
    ]
    if model.get("memory"):
        rows.append(("Memory mode", f"{model['memory']} (last pass)"))
    if model.get("name"):
        rows.append(("Model", f"{model['name']} ({model.get('family') or 'unknown family'})"))
    return rows


def about_rows(
    last_pass: Mapping[str, Any] | None, device: str, dtype: str
) -> list[tuple[str, str]]:
    """Every line of the About dialog as (label, value)."""
    rows = [(label, package_version(*names)) for label, names in PACKAGES]
    rows.append(("Python", platform.python_version()))
    return rows + runtime_rows(last_pass, device, dtype)


class AboutDialog(QDialog):
    """Versions and the device in use, as selectable plain text (easy to paste into a report)."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = plain(QLabel(f"{APP_NAME}\nimg2img with Stable Diffusion models"))
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        form = QFormLayout()
        self.values: dict[str, str] = {}
        for label, value in rows:
            field = plain(named(QLabel(value), f"about{label.replace(' ', '')}"))
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", field)
            self.values[label] = value
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(icon)
        column.addWidget(title)
        column.addLayout(form)
        column.addWidget(buttons)
