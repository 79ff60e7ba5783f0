"""Small widgets of the Control panel: a slider with a spin box, a picture thumbnail that takes
dropped files, combos that fit a narrow dock, and the scanned models offered while typing."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QWidget,
)

from gui.qt_images import thumbnail_qimage

THUMBNAIL_SIDE = 96


def narrow(combo: QComboBox) -> None:
    """Let a combo box shrink below its longest item (the panel is a narrow dock)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)


class ValueSlider(QWidget):
    """A slider with a spin box for one float; ``edited(value, merge_key)`` on a user edit.

    A drag is one gesture (its edits share a merge key); each other change is its own.
    """

    edited = Signal(float, object)

    def __init__(self, low: float, high: float, step: float, parent: QWidget | None = None):
        super().__init__(parent)
        self._factor = round(1 / step)
        self._gesture = 0
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(low * self._factor), round(high * self._factor))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(low, high)
        self.spin.setSingleStep(step)
        self.spin.setDecimals(2)
        self.spin.setFixedWidth(64)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.sliderPressed.connect(self._new_gesture)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.spin.valueChanged.connect(self._on_spin_changed)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setValue(round(value * self._factor))
            self.spin.setValue(value)

    def _new_gesture(self) -> None:
        self._gesture += 1

    def _on_slider_changed(self, position: int) -> None:
        if not self.slider.isSliderDown():
            self._new_gesture()
        value = position / self._factor
        with QSignalBlocker(self.spin):
            self.spin.setValue(value)
        self.edited.emit(value, (id(self), self._gesture))

    def _on_spin_changed(self, value: float) -> None:
        self._new_gesture()
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * self._factor))
        self.edited.emit(float(value), (id(self), self._gesture))


class PictureDrop(QLabel):
    """A thumbnail that takes dropped image files (``dropped(path)``)."""

    dropped = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self._placeholder = placeholder
        self.setAcceptDrops(True)
        self.setFixedSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet("color: palette(mid); font-size: 10px;")

    def show_picture(self, image: Image.Image | None, text: str = "") -> None:
        if image is None:
            self.setPixmap(QPixmap())
            self.setText(text or self._placeholder)
        else:
            self.setPixmap(QPixmap.fromImage(thumbnail_qimage(image, THUMBNAIL_SIDE)))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        mime = event.mimeData()
        if mime is not None and mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.dropped.emit(paths[0])


def library_items(kind: str) -> list[tuple[str, str]]:
    """(name, path) of the scanned model folders' files of ``kind`` ("lora", "controlnet",
    "ip_adapter"); empty when the library cannot be read (the file pickers still work)."""
    try:
        from core.library.registry import ModelLibrary

        return [(item.name, str(item.path)) for item in ModelLibrary().items(kind)]
    except Exception:
        return []


def complete_models(field: QLineEdit, kind: str) -> None:
    """Offer the scanned models of ``kind`` while typing (any part of the path matches)."""
    paths = [path for _name, path in library_items(kind)]
    if paths:
        completer = QCompleter(paths, field)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        field.setCompleter(completer)
