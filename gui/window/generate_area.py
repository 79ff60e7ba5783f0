"""The Generate dock's contents: the generation panel, then Generate and Cancel (with live mode's
buttons), the picture the next pass starts from, the progress bar and the memory mode."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget

from gui.qt_helpers import named
from gui.window.window_feedback import starts_from_label


class GenerateArea(QWidget):
    """Lays out ``panel`` above the buttons; the window connects the buttons it exposes."""

    def __init__(
        self, panel: QWidget, live_buttons: tuple[QWidget, ...], memory_box: QWidget
    ) -> None:
        super().__init__()
        self.generate_button = named(QPushButton("Generate"), "generateButton")
        self.generate_button.setToolTip("Run one pass on the input image (Ctrl+Enter)")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(32)
        self.cancel_button = named(QPushButton("Cancel"), "cancelButton")
        self.cancel_button.setToolTip("Stop the running pass (Esc)")
        self.cancel_button.setMinimumHeight(32)
        self.starts_from_label = starts_from_label()  # "Starts from: …", beside Generate
        self.progress_bar = named(QProgressBar(), "progressBar")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Idle")
        self.progress_bar.setValue(0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        for button in live_buttons:
            buttons.addWidget(button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 6)
        column.addWidget(panel, 1)
        footer = QVBoxLayout()
        footer.setContentsMargins(6, 0, 6, 0)
        footer.addLayout(buttons)
        footer.addWidget(self.starts_from_label)
        footer.addWidget(self.progress_bar)
        footer.addWidget(memory_box)
        column.addLayout(footer)
        self.setMinimumWidth(360)
