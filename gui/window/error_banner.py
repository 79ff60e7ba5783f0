"""The error banner above the canvas: one selectable line and a dismiss button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from gui.qt_helpers import named, plain


class ErrorBanner(QFrame):
    """Shows a one-line error (``show_error``) until dismissed or hidden; ``label`` holds it, as
    plain text (error messages quote file names and prompts)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet(
            "#errorBanner { background: #fde2e1; border-bottom: 1px solid #e0a3a0; }"
            "#errorBanner QLabel { color: #7a1712; }"
        )
        self.label = plain(named(QLabel(), "errorLabel"))
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = named(QToolButton(), "errorCloseButton")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_error(self, message: str) -> None:
        self.label.setText(message)
        self.show()
