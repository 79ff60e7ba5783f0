"""The first-run hint drawn over the empty canvas: how to get a first result.

A label on the canvas's viewport, centred, transparent to the mouse (drops still reach the
window); the window hides it once a picture is open.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QLabel

from gui.qt_helpers import named, plain

HINT_TEXT = (
    "Open or drop a picture (Ctrl+O), choose a model in the Generate panel,\n"
    "describe the whole result in the prompt, then press Generate (Ctrl+Enter).\n\n"
    "Strength 0.3–0.5 keeps the picture and changes details; 0.6–0.8 redraws more.\n"
    "Paint a mask (B) to change only part of it."
)


class EmptyHint(QLabel):
    """The hint over ``view``'s viewport; ``set_empty(False)`` hides it."""

    def __init__(self, view: QAbstractScrollArea) -> None:
        super().__init__(HINT_TEXT, view.viewport())
        plain(named(self, "emptyCanvasHint"))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("color: palette(mid); font-size: 14px;")
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)
        self._fit()

    def set_empty(self, empty: bool) -> None:
        """Show the hint while there is no picture."""
        self.setVisible(empty)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self._viewport and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        self.setGeometry(self._viewport.rect().adjusted(24, 24, -24, -24))
