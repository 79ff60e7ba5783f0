"""The one-line reason an action cannot start yet, in the warning colour the GUI shares."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

WARNING_STYLE = "color: #d9822b;"


class ReasonLabel(QLabel):
    """Why OK or Start is disabled: warning-coloured, word-wrapped, hidden while there is none."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setTextFormat(Qt.TextFormat.PlainText)  # reasons quote file names and values
        self.setStyleSheet(WARNING_STYLE)
        self.setWordWrap(True)
        self.hide()

    def set_reason(self, reason: str | None) -> None:
        """Show ``reason`` (None or "": hide the label)."""
        self.setText(reason or "")
        self.setVisible(bool(reason))
