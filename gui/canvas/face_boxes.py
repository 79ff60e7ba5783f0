"""The canvas's face boxes (Workflows › Fix faces): one item per face, edited before the run.

Each box shows its confidence, can be selected (Delete removes it), moved by dragging and resized
by its bottom-right handle. In "add face" mode a drag on the picture draws a new box. Boxes are
in picture pixels (scene coordinates) and are read back as :class:`core.imaging.faces.FaceBox`.
The canvas routes its left-button presses here while the overlay is active (``press``,
``drag_to``, ``release``); everything else reaches the items through the QGraphicsView.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from core.imaging.faces import FaceBox

MIN_SIDE = 8  # px: smaller drawn or resized boxes are not kept
HANDLE_PX = 10  # screen px: the resize handle's side
BOX_COLOR = QColor(60, 230, 120)
SELECTED_COLOR = QColor(255, 200, 40)


def _view_scale(item: QGraphicsItem) -> float:
    scene = item.scene()
    views = scene.views() if scene is not None else []
    return views[0].transform().m11() if views else 1.0


class _ConfidenceLabel(QGraphicsItem):
    """The box's confidence above its top-left corner, the same size at every zoom."""

    def __init__(self, text: str, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.color = BOX_COLOR
        self._font = QFont()
        self._font.setPixelSize(12)
        self._font.setBold(True)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.prepareGeometryChange()
        self.text = text
        metrics = QFontMetricsF(self._font)
        self._rect = QRectF(0, -metrics.height() - 4, metrics.horizontalAdvance(text) + 8, 0)
        self._rect.setHeight(metrics.height() + 4)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.fillRect(self._rect, self.color)
        painter.setFont(self._font)
        painter.setPen(QColor(20, 20, 20))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


class FaceBoxItem(QGraphicsRectItem):
    """One face: a selectable, movable box with its confidence and a resize handle."""

    def __init__(
        self, box: FaceBox, bounds: Callable[[], QRectF], on_edited: Callable[[], None]
    ) -> None:
        super().__init__(QRectF(0, 0, box.w, box.h))
        self.setPos(box.x, box.y)
        self.confidence = float(box.confidence)
        self._bounds = bounds
        self._on_edited = on_edited
        self._resizing = False
        self._press_geometry: tuple[QPointF, QRectF] | None = None
        flag = QGraphicsItem.GraphicsItemFlag
        for f in (flag.ItemIsSelectable, flag.ItemIsMovable, flag.ItemIsFocusable):
            self.setFlag(f)
        self.setFlag(flag.ItemSendsGeometryChanges)
        self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.label = _ConfidenceLabel(f"{self.confidence:.0%}", self)

    def face_box(self) -> FaceBox:
        """The box in picture pixels, rounded."""
        rect = self.rect().translated(self.pos())
        x, y = round(rect.x()), round(rect.y())
        return FaceBox(x, y, round(rect.width()), round(rect.height()), self.confidence)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        color = SELECTED_COLOR if self.isSelected() else BOX_COLOR
        pen = QPen(color, 3 if self.isSelected() else 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.rect())
        if self.isSelected():
            painter.fillRect(self._handle_rect(painter.worldTransform().m11()), color)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        margin = 4 / max(_view_scale(self), 1e-3)  # the cosmetic pen, in picture px
        return self.rect().adjusted(-margin, -margin, margin, margin)

    def _handle_rect(self, scale: float) -> QRectF:
        """The resize handle: a square inside the bottom-right corner, HANDLE_PX on screen."""
        rect = self.rect()
        side = min(HANDLE_PX / max(scale, 1e-3), rect.width() / 2, rect.height() / 2)
        return QRectF(rect.right() - side, rect.bottom() - side, side, side)

    # -- editing ----------------------------------------------------------------------------------
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and not self._resizing:
            rect, bounds = self.rect(), self._bounds()
            if not bounds.isEmpty():
                x = min(max(value.x(), bounds.left()), bounds.right() - rect.width())
                y = min(max(value.y(), bounds.top()), bounds.bottom() - rect.height())
                return QPointF(x, y)
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.label.color = SELECTED_COLOR if self.isSelected() else BOX_COLOR
            self.label.update()
            self.update()
        return super().itemChange(change, value)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self._press_geometry = (self.pos(), self.rect())
        handle = self._handle_rect(_view_scale(self))
        self._resizing = self.isSelected() and handle.contains(event.pos())
        if self._resizing:
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if not self._resizing:
            super().mouseMoveEvent(event)
            return
        corner = event.pos()
        bounds = self._bounds().translated(-self.pos())
        if not bounds.isEmpty():
            corner = QPointF(min(corner.x(), bounds.right()), min(corner.y(), bounds.bottom()))
        self.prepareGeometryChange()
        self.setRect(QRectF(0, 0, max(MIN_SIDE, corner.x()), max(MIN_SIDE, corner.y())))

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        resized, self._resizing = self._resizing, False
        if not resized:
            super().mouseReleaseEvent(event)
        if self._press_geometry != (self.pos(), self.rect()):
            self._on_edited()
        self._press_geometry = None

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            overlay = self.data(0)
            if isinstance(overlay, FaceBoxOverlay):
                overlay.remove_selected()
                event.accept()
                return
        super().keyPressEvent(event)


class FaceBoxOverlay(QObject):
    """The face boxes drawn over the picture in ``scene``; hidden while not ``active``."""

    changed = Signal()  # a box was added, removed, moved or resized
    selection_changed = Signal()
    add_mode_changed = Signal(bool)

    def __init__(self, scene: QGraphicsScene, z_value: float) -> None:
        super().__init__(scene)
        self._scene = scene
        self._z = z_value
        self._items: list[FaceBoxItem] = []
        self._active = False
        self._add_mode = False
        self._draft: QGraphicsRectItem | None = None
        self._draft_start = QPointF()
        scene.selectionChanged.connect(self._on_scene_selection_changed)

    # -- state ------------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether the boxes are shown and the canvas's left button edits them."""
        return self._active

    @property
    def add_mode(self) -> bool:
        return self._add_mode

    def set_active(self, active: bool) -> None:
        """Show the boxes and take the left button (True), or hide them and give it back."""
        self._active = bool(active)
        for item in self._items:
            item.setVisible(self._active)
        if not self._active:
            self.set_add_mode(False)

    def set_add_mode(self, on: bool) -> None:
        """In add mode a left-button drag on the picture draws a new box (one per drag)."""
        on = bool(on) and self._active
        if on != self._add_mode:
            self._add_mode = on
            self.add_mode_changed.emit(on)

    # -- boxes --------------------------------------------------------------------------------
    def boxes(self) -> list[FaceBox]:
        """The boxes, in the order they were added, in picture pixels."""
        return [item.face_box() for item in self._items]

    def set_boxes(self, boxes: Sequence[FaceBox]) -> None:
        """Replace every box with ``boxes``."""
        for item in self._items:
            self._scene.removeItem(item)
        self._items = []
        for box in boxes:
            self._add_item(box)
        self.changed.emit()

    def add_box(self, box: FaceBox) -> None:
        """Add one box and select it."""
        item = self._add_item(box)
        self._scene.clearSelection()
        item.setSelected(True)
        self.changed.emit()

    def remove_selected(self) -> int:
        """Remove the selected boxes; returns how many."""
        chosen = [item for item in self._items if item.isSelected()]
        for item in chosen:
            self._items.remove(item)
            self._scene.removeItem(item)
        if chosen:
            self.changed.emit()
        return len(chosen)

    def selected_indices(self) -> list[int]:
        return [i for i, item in enumerate(self._items) if item.isSelected()]

    def select(self, indices: Sequence[int]) -> None:
        """Select exactly the boxes at ``indices``."""
        wanted = set(indices)
        for i, item in enumerate(self._items):
            item.setSelected(i in wanted)

    def items(self) -> list[FaceBoxItem]:
        return list(self._items)

    def _add_item(self, box: FaceBox) -> FaceBoxItem:
        item = FaceBoxItem(box, self._bounds, self.changed.emit)
        item.setData(0, self)
        item.setZValue(self._z)
        item.setVisible(self._active)
        self._scene.addItem(item)
        self._items.append(item)
        return item

    def _bounds(self) -> QRectF:
        return self._scene.sceneRect()

    # -- drawing a new box (the canvas forwards its left button while active) ------------------
    def press(self, point: QPointF) -> bool:
        """A left-button press at ``point`` (picture px): starts a new box in add mode. Returns
        False otherwise, so the view hands the press to the items (select, move, resize)."""
        if not (self._active and self._add_mode):
            return False
        self._draft_start = QPointF(point)
        self._draft = QGraphicsRectItem(QRectF(point, point))
        pen = QPen(BOX_COLOR, 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._draft.setPen(pen)
        self._draft.setZValue(self._z)
        self._scene.addItem(self._draft)
        return True

    def drag_to(self, point: QPointF) -> bool:
        """Grow the box being drawn; False when none is."""
        if self._draft is None:
            return False
        self._draft.setRect(self._draft_rect(point))
        return True

    def release(self, point: QPointF) -> bool:
        """Finish the box being drawn (kept when at least MIN_SIDE px each way); leaves add mode."""
        if self._draft is None:
            return False
        rect = self._draft_rect(point)
        self._scene.removeItem(self._draft)
        self._draft = None
        self.set_add_mode(False)
        if rect.width() >= MIN_SIDE and rect.height() >= MIN_SIDE:
            x, y = round(rect.x()), round(rect.y())
            self.add_box(FaceBox(x, y, round(rect.width()), round(rect.height())))
        return True

    def _draft_rect(self, point: QPointF) -> QRectF:
        rect = QRectF(self._draft_start, point).normalized()
        bounds = self._bounds()
        return rect.intersected(bounds) if not bounds.isEmpty() else rect

    def _on_scene_selection_changed(self) -> None:
        # A scene being destroyed deselects items it has already deleted: say nothing then.
        if self._items and all(shiboken6.isValid(item) for item in self._items):
            self.selection_changed.emit()
