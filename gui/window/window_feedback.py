"""Small pieces of feedback the window gives: which picture the next pass starts from, a flash in
the status bar when the tool changes, and banners that clear once their cause is gone."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QStatusBar

from core.history import PassRecord
from gui.qt_helpers import named, plain
from gui.run.runner import NO_MODEL
from gui.window.error_banner import ErrorBanner

TOOL_FLASH_MS = 2500
STARTS_FROM_TIP = (
    "Generate always starts from this picture, so Generate again makes a sibling of the last "
    "result. To go on from a result, select its card and click Continue from here."
)


def starts_from_label() -> QLabel:
    """The line beside Generate that names the next pass's input."""
    label = plain(named(QLabel(), "startsFromLabel"))
    label.setToolTip(STARTS_FROM_TIP)
    return label


def starts_from_text(record: PassRecord | None) -> str:
    """ "Starts from: Pass 2 · 0.45" (or that there is no picture yet)."""
    return "Starts from: no picture yet" if record is None else f"Starts from: {record.name}"


class ToolFlash(QObject):
    """Shows "Tool: Brush (B)" in the status bar whenever the canvas's tool changes."""

    def __init__(self, actions: dict[str, QAction], status_bar: QStatusBar) -> None:
        super().__init__(status_bar)
        self._actions = actions
        self._status_bar = status_bar

    def flash(self, tool: str) -> None:
        action = self._actions.get(tool)
        if action is None:
            return
        key = action.shortcut().toString()
        self._status_bar.showMessage(f"Tool: {action.text()} ({key})", TOOL_FLASH_MS)


class BannerCauses:
    """Hides the error banner when the message it shows no longer holds ("Choose a model first"
    once a model is chosen; a new picture hides any banner: gui.window.main_window)."""

    def __init__(self, banner: ErrorBanner) -> None:
        self._banner = banner

    def model_chosen(self, model: str) -> None:
        if model:
            self._clear(NO_MODEL)

    def _clear(self, message: str) -> None:
        if self._banner.isVisible() and self._banner.label.text() == message:
            self._banner.hide()
