"""The image canvas: shows the picture, step previews, the mask and the strength map; paints both.

Scene coordinates are image pixels (the image item sits at the origin). The mask overlay is a
cached ARGB32 QImage owned by the MaskLayer; a stroke re-renders and repaints only the rectangle
it touched. One drag is one ``MaskStrokeCommand`` pushed to the undo stack on release. The strength
map (gui.canvas.strength_layer) works the same way with the "strength" tool; zoom and pan come from
gui.canvas.zoom_view.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPixmap,
    QResizeEvent,
    QTabletEvent,
    QTransform,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from gui.canvas.control_overlay import ControlOverlay
from gui.canvas.face_boxes import FaceBoxOverlay
from gui.canvas.mask_layer import BrushSettings, MaskLayer, layer_image
from gui.canvas.overlay_colors import OVERLAY_MODES
from gui.canvas.overlay_items import (
    BrushCursorItem,
    MaskOverlayItem,
    cached_pixmap_item,
    refresh_overlay,
)
from gui.canvas.strength_layer import StrengthMapMixin
from gui.canvas.zoom_view import ZoomView
from gui.qt_images import array_to_qimage, pil_to_qimage

TOOLS = ("brush", "eraser", "strength", "pan")
_TABLET_EVENTS = (QEvent.Type.TabletPress, QEvent.Type.TabletMove, QEvent.Type.TabletRelease)


class Canvas(StrengthMapMixin, ZoomView):
    """Image view with mask and strength-map painting, zoom/pan and step previews."""

    mask_changed = Signal()
    brush_changed = Signal()
    tool_changed = Signal(str)
    strength_map_changed = Signal()
    strength_value_changed = Signal(float)
    strength_map_visible_changed = Signal(bool)

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(None, parent)
        self.setObjectName("canvas")
        self._undo_stack = undo_stack
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.brush = BrushSettings()
        self.mask_layer = MaskLayer(0, 0, self.brush)
        self.mask_layer.changed.connect(self._on_mask_layer_changed)

        self._image: Image.Image | None = None
        self._image_item = cached_pixmap_item()
        self._preview_item = cached_pixmap_item()
        self._preview_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item = MaskOverlayItem()
        self._cursor_item = BrushCursorItem()
        items = (self._image_item, self._preview_item, self._overlay_item, self._cursor_item)
        for z, item in enumerate(items):
            item.setZValue(z)
            item.setVisible(item in (self._image_item, self._overlay_item))
            self._scene.addItem(item)
        # The strength map sits above image and preview, below the mask overlay.
        self._init_strength_map(self._scene, z_value=1.5)
        # A control layer's control image (the Control panel's "Show"), above the mask.
        self.control_overlay = ControlOverlay(self._scene, self._image_item, z_value=2.5)
        self.face_boxes = FaceBoxOverlay(self._scene, z_value=2.7)  # Workflows › Fix faces
        self._stroke_layer: MaskLayer = self.mask_layer

        self._tool = "brush"
        self._mask_visible = True
        self._overlay_color = QColor(255, 0, 0)
        self._overlay_mode = "tint"
        self._overlay_item.setOpacity(0.5)
        self._painting = False
        self._space_held = False
        self._auto_fit = True

        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self._update_cursor_shape()

    # ---- image and preview -----------------------------------------------------------------
    def set_image(self, image: Image.Image, keep_mask: bool = True) -> None:
        """Show ``image``; mask and strength map are kept when the size matches (and keep_mask)."""
        size_changed = self._image is None or self._image.size != image.size
        self._image = image.copy()
        width, height = image.size
        self._image_item.setPixmap(QPixmap.fromImage(pil_to_qimage(image)))
        self.setSceneRect(QRectF(0, 0, width, height))
        if not keep_mask or self.mask_layer.shape != (height, width):
            self.mask_layer.reset(width, height)
        if not keep_mask or self.strength_layer.shape != (height, width):
            self.strength_layer.reset(width, height)
        self.show_preview(None)
        if size_changed or self._auto_fit:
            self.fit()

    def image(self) -> Image.Image | None:
        """The picture currently shown (not the preview)."""
        return self._image

    def show_preview(self, rgb: np.ndarray | QImage | None) -> None:
        """Draw a step preview (any size, stretched over the image); None shows the image again.

        A QImage (converted on the worker thread) costs only the pixmap upload here."""
        if rgb is None:
            self._preview_item.setVisible(False)
            self._preview_item.setPixmap(QPixmap())
            self._image_item.setVisible(True)
            return
        pixmap = QPixmap.fromImage(rgb if isinstance(rgb, QImage) else array_to_qimage(rgb))
        target = self.sceneRect()
        if self._image is None or target.isEmpty():
            target = QRectF(0, 0, pixmap.width(), pixmap.height())
            self.setSceneRect(target)
        self._preview_item.setPixmap(pixmap)
        sx = target.width() / max(1, pixmap.width())
        sy = target.height() / max(1, pixmap.height())
        self._preview_item.setTransform(QTransform.fromScale(sx, sy))
        self._preview_item.setVisible(True)
        self._image_item.setVisible(False)  # covered by the (opaque) preview: not drawn twice

    def is_preview_shown(self) -> bool:
        return self._preview_item.isVisible()

    # ---- mask ------------------------------------------------------------------------------
    def mask_image(self) -> Image.Image | None:
        """The mask as an L image, or None when nothing is painted."""
        if self.mask_layer.is_empty():
            return None
        return self.mask_layer.to_pil()

    def set_mask_image(self, mask: Image.Image | None, text: str = "Set mask") -> None:
        """Replace the mask (scaled to the image size); one undo command. None clears it."""
        if mask is None:
            self.clear_mask()
            return
        picture_size = None if self._image is None else self._image.size
        self._push_edit(self.mask_layer.set_array(layer_image(mask, picture_size), text))

    def clear_mask(self) -> None:
        self._push_edit(self.mask_layer.clear())

    def invert_mask(self) -> None:
        self._push_edit(self.mask_layer.invert())

    def fill_mask(self) -> None:
        self._push_edit(self.mask_layer.fill())

    def _push_edit(self, command: QUndoCommand | None) -> None:
        """Put an applied edit on the undo stack (None: the edit changed nothing)."""
        if command is not None:
            self._undo_stack.push(command)

    def set_mask_visible(self, visible: bool) -> None:
        self._mask_visible = bool(visible)
        self._overlay_item.setVisible(self._mask_visible)
        if self._mask_visible:
            self._refresh_overlay()

    def mask_visible(self) -> bool:
        return self._mask_visible

    def set_mask_opacity(self, opacity: float) -> None:
        self._overlay_item.setOpacity(min(max(float(opacity), 0.0), 1.0))

    def mask_opacity(self) -> float:
        return self._overlay_item.opacity()

    def set_overlay_color(self, color: QColor) -> None:
        """Tint colour of the mask overlay (its alpha multiplies the opacity)."""
        self._overlay_color = QColor(color)
        self._refresh_overlay()

    def set_overlay_mode(self, mode: str) -> None:
        """Overlay style: "tint" (one colour) or "heatmap" (0 clear, low blue .. high red)."""
        if mode not in OVERLAY_MODES:
            raise ValueError(f"unknown overlay mode {mode!r}; expected one of {OVERLAY_MODES}")
        self._overlay_mode = mode
        self._refresh_overlay()

    def overlay_mode(self) -> str:
        return self._overlay_mode

    def _refresh_overlay(self, rect: QRect | None = None) -> None:
        """Bring the cached overlay up to date (dirty areas only) and repaint ``rect``."""
        if self._mask_visible:
            overlay, layer = self._overlay_item, self.mask_layer
            refresh_overlay(overlay, layer, self._overlay_color, self._overlay_mode, rect)

    def _on_mask_layer_changed(self, rect: QRect) -> None:
        self._refresh_overlay(rect)
        if not self._painting:
            self.mask_changed.emit()

    # ---- tools and brush -------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        """Pick the left-button tool: "brush", "eraser" (mask only), "strength" or "pan"."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {TOOLS}")
        changed = tool != self._tool
        self._tool = tool
        if tool != "pan":
            self.brush.eraser = tool == "eraser"
        self._update_cursor_shape()
        if changed:
            self.tool_changed.emit(tool)

    def tool(self) -> str:
        return self._tool

    def set_brush_size(self, size: int) -> None:
        self.brush.size = size
        self._cursor_item.set_radius(self.brush.size / 2 * self.zoom_factor())
        self.brush_changed.emit()
        self.view_changed.emit()  # toolbars listening to the view refresh their brush widgets

    def grow_brush(self) -> None:
        self.set_brush_size(max(self.brush.size + 1, round(self.brush.size * 1.25)))

    def shrink_brush(self) -> None:
        self.set_brush_size(min(self.brush.size - 1, round(self.brush.size / 1.25)))

    def _pan_mode(self) -> bool:
        return self._tool == "pan" or self._space_held or self._pan_last is not None

    def _update_cursor_shape(self) -> None:
        shape = Qt.CursorShape
        grab = shape.OpenHandCursor if self._pan_last is None else shape.ClosedHandCursor
        self.viewport().setCursor(QCursor(grab if self._pan_mode() else shape.CrossCursor))
        self._cursor_item.setVisible(self._cursor_item.isVisible() and not self._pan_mode())

    def _move_brush_cursor(self, scene_pos: QPointF) -> None:
        self._cursor_item.setPos(scene_pos)
        self._cursor_item.set_radius(self.brush.size / 2 * self.zoom_factor())
        brush = not self._pan_mode() and not self.face_boxes.active
        self._cursor_item.setVisible(brush and self._image is not None)

    # ---- zoom (gui.canvas.zoom_view) ----------------------------------------------------------
    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        self._auto_fit = False
        super().set_zoom(factor, anchor)

    def fit(self) -> None:
        """Fit the whole image in the view (and keep fitting on resize until the next zoom)."""
        if not self.sceneRect().isEmpty():
            self._auto_fit = True
        super().fit()

    def _on_zoom_applied(self) -> None:
        mode = Qt.TransformationMode
        fast = self.zoom_factor() >= 2.0
        self._image_item.setTransformationMode(
            mode.FastTransformation if fast else mode.SmoothTransformation
        )
        self._cursor_item.set_radius(self.brush.size / 2 * self.zoom_factor())
        super()._on_zoom_applied()

    # ---- pointer input (mouse and pen share these) ------------------------------------------
    def _on_pointer_pressed(self, pos: QPointF, button: Qt.MouseButton, pressure: float) -> bool:
        if self._painting:
            return True
        pan = button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and (self._tool == "pan" or self._space_held)
        )
        if pan:
            self._pan_last = QPointF(pos)
            self._update_cursor_shape()
            return True
        if button != Qt.MouseButton.LeftButton or self._image is None:
            return False
        if self.face_boxes.active:  # boxes are drawn here or edited by the view's items
            return self.face_boxes.press(self._to_scene(pos))
        if self._tool == "strength":
            self._stroke_layer, brush = self.strength_layer, self._strength_stroke_brush()
        else:
            self._stroke_layer, brush = self.mask_layer, self.brush
            if not self._mask_visible:
                self.set_mask_visible(True)
        self._painting = True
        self._stroke_layer.begin_stroke(brush)
        self._on_pointer_moved(pos, pressure)
        return True

    def _on_pointer_moved(self, pos: QPointF, pressure: float) -> bool:
        point = self._to_scene(pos)
        self._move_brush_cursor(point)
        if self._pan_last is not None:
            self._pan_to(pos)
        elif self._painting:
            self._stroke_layer.stroke_to(point.x(), point.y(), pressure)
        elif self.face_boxes.drag_to(point):
            return True
        return self._pan_last is not None or self._painting

    def _on_pointer_released(self, pos: QPointF, button: Qt.MouseButton, pressure: float) -> bool:
        if self._pan_last is not None and button != Qt.MouseButton.RightButton:
            self._pan_last = None
            self._update_cursor_shape()
            return True
        if self.face_boxes.release(self._to_scene(pos)):
            return True
        if not (self._painting and button == Qt.MouseButton.LeftButton):
            return False
        self._on_pointer_moved(pos, pressure)
        command = self._stroke_layer.end_stroke()
        self._painting = False
        if command is not None:
            self._undo_stack.push(command)  # a strength command emits strength_map_changed itself
            if self._stroke_layer is self.mask_layer:
                self.mask_changed.emit()
        return True

    # ---- Qt event handlers -----------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self._on_pointer_pressed(event.position(), event.button(), 1.0):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._on_pointer_moved(event.position(), 1.0):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self._on_pointer_released(event.position(), event.button(), 1.0):
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        actions: dict[int, Callable[[], None]]
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            actions = {
                Qt.Key.Key_Plus: self.zoom_in,
                Qt.Key.Key_Equal: self.zoom_in,
                Qt.Key.Key_Minus: self.zoom_out,
            }
        else:
            actions = {
                Qt.Key.Key_BracketLeft: self.shrink_brush,
                Qt.Key.Key_BracketRight: self.grow_brush,
                Qt.Key.Key_F: self.fit,
                Qt.Key.Key_1: self.zoom_100,
                Qt.Key.Key_M: lambda: self.set_mask_visible(not self._mask_visible),
            }
        action = actions.get(key)
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self._update_cursor_shape()
        elif action is None:
            super().keyPressEvent(event)
            return
        else:
            action()
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._update_cursor_shape()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space_held = False
        super().focusOutEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    def viewportEvent(self, event: QEvent) -> bool:
        kind = event.type()
        if kind in _TABLET_EVENTS and isinstance(event, QTabletEvent):
            # Pen input works like the mouse, with pressure scaling the brush size.
            pos, pressure = event.position(), event.pressure()
            if kind == QEvent.Type.TabletPress:
                self._on_pointer_pressed(pos, event.button(), pressure)
            elif kind == QEvent.Type.TabletMove:
                self._on_pointer_moved(pos, pressure)
            else:
                self._on_pointer_released(pos, event.button(), pressure)
            event.accept()
            return True
        if kind == QEvent.Type.Leave:
            self._cursor_item.setVisible(False)
        return super().viewportEvent(event)
