"""Compare two images: side by side (synced zoom and scroll), wipe, or amplified difference.

The right image is scaled to the left image's size for display, so every view shares one scene
size and zoom/scroll can be copied between views as is.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, QRectF, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStackedWidget,
    QStyleOptionGraphicsItem,
    QVBoxLayout,
    QWidget,
)

from gui.canvas.zoom_view import ZoomView
from gui.history.difference_page import DifferencePage
from gui.qt_helpers import named, plain, plain_tooltip
from gui.qt_images import pil_to_qimage

MODES = ("side_by_side", "wipe", "difference")
_MODE_LABELS = {"side_by_side": "Side by side", "wipe": "Wipe", "difference": "Difference"}
DIFFERENCE_GAIN = 4


def difference_image(
    left: Image.Image, right: Image.Image, gain: int = DIFFERENCE_GAIN
) -> np.ndarray:
    """Per-pixel |left - right| × gain as an HxWx3 uint8 array (right resized to left's size)."""
    if right.size != left.size:
        right = right.resize(left.size, Image.Resampling.LANCZOS)
    a = np.asarray(left.convert("RGB"), np.int16)
    b = np.asarray(right.convert("RGB"), np.int16)
    return np.clip(np.abs(a - b) * gain, 0, 255).astype(np.uint8)


class _ZoomView(ZoomView):
    """A compare pane: wheel zoom about the cursor, left-drag (scroll hand) and middle-drag pan."""

    def __init__(
        self, scene: QGraphicsScene, parent: QWidget | None = None, drag_pan: bool = True
    ) -> None:
        super().__init__(scene, parent)
        if drag_pan:
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_last = QPointF(event.position())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._pan_last is not None:
            self._pan_to(event.position())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_last = None
            return
        super().mouseReleaseEvent(event)


class _WipeItem(QGraphicsItem):
    """Left image left of the divider, right image right of it, and the divider line."""

    def __init__(self, left: QPixmap, right: QPixmap) -> None:
        super().__init__()
        self._left, self._right = left, right
        self._fraction = 0.5

    def set_fraction(self, fraction: float) -> None:
        self._fraction = min(max(fraction, 0.0), 1.0)
        self.update()

    def fraction(self) -> float:
        return self._fraction

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(self._left.rect())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        width, height = self._left.width(), self._left.height()
        split = round(width * self._fraction)
        if split > 0:
            painter.drawPixmap(0, 0, self._left, 0, 0, split, height)
        if split < width:
            painter.drawPixmap(split, 0, self._right, split, 0, width - split, height)
        pen = QPen(QColor(255, 255, 255, 220), 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(split, 0), QPointF(split, height))


class _WipeView(_ZoomView):
    """Left-drag moves the wipe divider (middle-drag pans)."""

    divider_dragged = Signal(float)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent, drag_pan=False)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        self._dragging = False

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self._emit_divider(event.position())
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._dragging:
            self._emit_divider(event.position())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = False
            return
        super().mouseReleaseEvent(event)

    def _emit_divider(self, pos: QPointF) -> None:
        width = self.sceneRect().width()
        if width > 0:
            x = self.viewportTransform().inverted()[0].map(pos).x()
            self.divider_dragged.emit(x / width)


class CompareView(QWidget):
    """Two images compared side by side, with a wipe divider, or as an amplified difference."""

    mode_changed = Signal(str)

    def __init__(
        self,
        left: Image.Image,
        right: Image.Image,
        left_label: str,
        right_label: str,
        parent: QWidget | None = None,
        mask: Image.Image | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self._mode = "side_by_side"
        self._syncing = False
        self._fitted = False
        self.right_was_scaled = right.size != left.size
        if self.right_was_scaled:
            right = right.resize(left.size, Image.Resampling.LANCZOS)
        left_pixmap = QPixmap.fromImage(pil_to_qimage(left.convert("RGB")))
        right_pixmap = QPixmap.fromImage(pil_to_qimage(right.convert("RGB")))
        rect = QRectF(0, 0, left.width, left.height)

        # 1. One scene per picture; the views share the scene rect.
        def scene_with(item: QGraphicsItem) -> QGraphicsScene:
            scene = QGraphicsScene(self)
            scene.addItem(item)
            scene.setSceneRect(rect)
            return scene

        self.left_view = _ZoomView(scene_with(_smooth_item(left_pixmap)))
        self.right_view = _ZoomView(scene_with(_smooth_item(right_pixmap)))
        self._wipe_item = _WipeItem(left_pixmap, right_pixmap)
        self.wipe_view = _WipeView(scene_with(self._wipe_item))
        diff_item = _smooth_item(QPixmap(left_pixmap.size()))
        self.difference_view = _ZoomView(scene_with(diff_item))
        self.left_view.setObjectName("compareLeftView")
        self.right_view.setObjectName("compareRightView")
        self.wipe_view.setObjectName("compareWipeView")
        self.difference_view.setObjectName("compareDifferenceView")

        # 2. Controls: mode picker, fit button, wipe slider.
        self.mode_combo = named(QComboBox(), "compareMode")
        for name in MODES:
            self.mode_combo.addItem(_MODE_LABELS[name], name)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_index_changed)
        fit_button = named(QPushButton("Fit"), "compareFit")
        fit_button.clicked.connect(self.fit)
        self.wipe_slider = named(QSlider(Qt.Orientation.Horizontal), "wipeSlider")
        self.wipe_slider.setRange(0, 100)
        self.wipe_slider.setValue(50)
        self.wipe_slider.setToolTip(
            plain_tooltip(f"Left of the divider: {left_label}; right: {right_label}")
        )
        self.wipe_slider.valueChanged.connect(self._on_wipe_slider_changed)
        self.wipe_view.divider_dragged.connect(self._on_divider_dragged)
        right_title = right_label + (" (scaled)" if self.right_was_scaled else "")

        # 3. Pages.
        self._stack = QStackedWidget()
        side = QWidget()
        side_layout = QHBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        for view, title in ((self.left_view, left_label), (self.right_view, right_title)):
            column = QVBoxLayout()
            column.addWidget(_title_label(title, "compareSideTitle"))
            column.addWidget(view, 1)
            side_layout.addLayout(column, 1)
        wipe = QWidget()
        wipe_layout = QVBoxLayout(wipe)
        wipe_layout.setContentsMargins(0, 0, 0, 0)
        labels = QHBoxLayout()
        labels.addWidget(plain(named(QLabel(f"◀ {left_label}"), "compareWipeLeft")))
        labels.addStretch(1)
        labels.addWidget(plain(named(QLabel(f"{right_title} ▶"), "compareWipeRight")))
        wipe_layout.addLayout(labels)
        wipe_layout.addWidget(self.wipe_view, 1)
        wipe_layout.addWidget(self.wipe_slider)
        diff_label = f"|{left_label} − {right_title}|"
        self.difference_page = diff = DifferencePage(
            left, right, diff_item, self.difference_view, diff_label, mask
        )
        for page in (side, wipe, diff):
            self._stack.addWidget(page)

        top = QHBoxLayout()
        top.addWidget(QLabel("Compare:"))
        top.addWidget(self.mode_combo)
        top.addStretch(1)
        top.addWidget(fit_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._stack, 1)

        # 4. Every view follows the one the user moves (zoom and scroll, both ways).
        for view in self._views():
            view.view_changed.connect(lambda v=view: self._sync_from(v))

    # ---- public API ------------------------------------------------------------------------
    def mode(self) -> str:
        return self._mode

    def set_mode(self, name: str) -> None:
        """ "side_by_side", "wipe" or "difference"."""
        if name not in MODES:
            raise ValueError(f"unknown compare mode {name!r}; expected one of {MODES}")
        if name == self._mode:
            return
        source = self._active_view()
        self._mode = name
        self._stack.setCurrentIndex(MODES.index(name))
        with QSignalBlocker(self.mode_combo):
            self.mode_combo.setCurrentIndex(MODES.index(name))
        self._sync_from(source)
        self.mode_changed.emit(name)

    def wipe_position(self) -> float:
        """Divider position as a fraction of the width (0 shows only the right image)."""
        return self._wipe_item.fraction()

    def set_wipe_position(self, fraction: float) -> None:
        self.wipe_slider.setValue(round(min(max(fraction, 0.0), 1.0) * 100))

    def fit(self) -> None:
        """Fit the picture in the active view (the others follow)."""
        self._active_view().fit()

    # ---- internals -------------------------------------------------------------------------
    def _views(self) -> tuple[_ZoomView, ...]:
        return (self.left_view, self.right_view, self.wipe_view, self.difference_view)

    def _active_view(self) -> _ZoomView:
        return {
            "side_by_side": self.left_view,
            "wipe": self.wipe_view,
            "difference": self.difference_view,
        }[self._mode]

    def _sync_from(self, source: _ZoomView) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            transform = source.transform()
            hvalue = source.horizontalScrollBar().value()
            vvalue = source.verticalScrollBar().value()
            center = source.scene_center()
            for view in self._views():
                if view is source:
                    continue
                view.setTransform(transform)
                if view.viewport().size() == source.viewport().size():
                    view.horizontalScrollBar().setValue(hvalue)
                    view.verticalScrollBar().setValue(vvalue)
                else:
                    view.centerOn(center)
        finally:
            self._syncing = False

    def _on_mode_index_changed(self, index: int) -> None:
        self.set_mode(self.mode_combo.itemData(index))

    def _on_wipe_slider_changed(self, value: int) -> None:
        self._wipe_item.set_fraction(value / 100)

    def _on_divider_dragged(self, fraction: float) -> None:
        self.set_wipe_position(fraction)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            self.fit()


def _title_label(text: str, name: str) -> QLabel:
    """A centred caption showing a record name literally (names come from file names)."""
    return plain(named(QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter), name))


def _smooth_item(pixmap: QPixmap) -> QGraphicsPixmapItem:
    item = QGraphicsPixmapItem(pixmap)
    item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
    return item


class CompareDialog(QDialog):
    """A non-modal dialog holding one CompareView; it is deleted when closed."""

    def __init__(
        self,
        left: Image.Image,
        right: Image.Image,
        left_label: str,
        right_label: str,
        parent: QWidget | None = None,
        mask: Image.Image | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("compareDialog")
        self.setWindowTitle(f"Compare — {left_label} vs {right_label}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setModal(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.compare_view = CompareView(left, right, left_label, right_label, self, mask)
        layout.addWidget(self.compare_view)
        self.resize(1100, 720)


def open_compare_dialog(
    parent: QWidget | None,
    left: Image.Image,
    right: Image.Image,
    left_label: str,
    right_label: str,
    mask: Image.Image | None = None,
) -> CompareDialog:
    """Show a CompareDialog for two pictures and return it; ``mask`` (the later pass's) splits
    the difference figures and enables "only changes outside the mask"."""
    dialog = CompareDialog(left, right, left_label, right_label, parent, mask)
    dialog.show()
    return dialog
