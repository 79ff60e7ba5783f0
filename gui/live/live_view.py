"""The live result view beside the canvas: the newest live frame or step preview, whether a pass
is processing, the last pass's latency, the live settings, Apply and Record.

A passive widget: the live mode (gui.live.live_wiring) tells it what to show and listens to
``apply_requested`` and ``record_toggled``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.qt_helpers import named, plain
from gui.qt_images import array_to_qimage, pil_to_qimage

IDLE_TEXT = "Live: paint a mask, change the prompt or a setting and the result follows."


class PictureView(QWidget):
    """Draws one picture scaled to fit, centred, on a dark background."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap = QPixmap()
        self.setMinimumSize(160, 120)

    def set_image(self, image: QImage | None) -> None:
        self._pixmap = QPixmap() if image is None else QPixmap.fromImage(image)
        self.update()

    def has_image(self) -> bool:
        return not self._pixmap.isNull()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(420, 420)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(38, 38, 42))
        if self._pixmap.isNull():
            return
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(QRectF(x, y, size.width(), size.height()), self._pixmap, QRectF())


class LiveView(QWidget):
    """objectName ``livePreview``; Apply is ``liveApplyButton``, Record ``liveRecordButton``."""

    apply_requested = Signal()
    record_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("livePreview")
        title = named(QLabel("<b>Live result</b>"), "liveTitle")
        self.processing = named(QProgressBar(), "liveProcessing")
        self.processing.setRange(0, 0)  # a busy indicator until the first step is known
        self.processing.setMaximumHeight(14)
        self.processing.setTextVisible(False)
        self.processing.setToolTip("A live pass is processing")
        self.picture = named(PictureView(), "liveImage")
        self.latency_label = plain(named(QLabel("No live result yet"), "liveLatencyLabel"))
        self.note_label = plain(named(QLabel(IDLE_TEXT), "liveNoteLabel"))
        self.note_label.setWordWrap(True)
        self.error_label = plain(named(QLabel(), "liveErrorLabel"))
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.hide()
        self.apply_button = named(QPushButton("Apply"), "liveApplyButton")
        self.apply_button.setToolTip("Keep the live result as a pass in the history")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_requested)
        self.make_input = named(QCheckBox("as next input"), "liveMakeInputCheck")
        self.make_input.setChecked(True)
        self.make_input.setToolTip("Apply also makes the live result the input of the next pass")
        self.record_button = named(QPushButton("Record"), "liveRecordButton")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Write every live frame as a numbered PNG into a folder")
        self.record_button.toggled.connect(self.record_toggled)
        self.record_label = plain(named(QLabel(), "liveRecordLabel"))
        self.record_label.hide()
        self._processing = False

        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.processing, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.make_input)
        buttons.addStretch(1)
        buttons.addWidget(self.record_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addLayout(header)
        column.addWidget(self.picture, 1)
        column.addWidget(self.latency_label)
        column.addWidget(self.note_label)
        column.addWidget(self.error_label)
        column.addLayout(buttons)
        column.addWidget(self.record_label)
        self.set_processing(False)

    # -- what the live mode shows -----------------------------------------------------------------
    def show_result(self, image: Image.Image, latency: float, duration: float, steps: int) -> None:
        """A finished live frame: Apply is enabled while it is shown."""
        self.picture.set_image(pil_to_qimage(image))
        self.latency_label.setText(
            f"Edit → result {latency * 1000:.0f} ms · pass {duration * 1000:.0f} ms · "
            f"{steps} step{'' if steps == 1 else 's'}"
        )
        self.error_label.hide()
        self.apply_button.setEnabled(True)

    def show_preview(self, rgb: np.ndarray | QImage, step: int, total: int) -> None:
        self.picture.set_image(rgb if isinstance(rgb, QImage) else array_to_qimage(rgb))
        self.processing.setRange(0, max(1, total))
        self.processing.setValue(step)

    def set_outdated(self) -> None:
        """The input changed: the shown frame is no longer its result (nothing to apply)."""
        self.apply_button.setEnabled(False)

    def set_processing(self, processing: bool) -> None:
        self._processing = processing
        self.processing.setRange(0, 0)
        self.processing.setVisible(processing)

    def is_processing(self) -> bool:
        return self._processing

    def set_note(self, text: str) -> None:
        self.note_label.setText(text)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def set_recording(self, folder: str | None, frames: int = 0) -> None:
        """Show where frames go (None: not recording); the button follows without a signal."""
        self.record_button.blockSignals(True)
        self.record_button.setChecked(folder is not None)
        self.record_button.blockSignals(False)
        self.record_label.setVisible(folder is not None)
        if folder is not None:
            self.record_label.setText(f"Recording to {folder} · {frames} frames")
