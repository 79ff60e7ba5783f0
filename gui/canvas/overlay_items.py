"""Scene items of the canvas: a layer's overlay image and the brush outline.

``refresh_overlay`` brings a MaskOverlayItem up to date with its layer: the layer re-renders only
its dirty areas into a cached QImage, and the item repaints only the touched rectangle.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from gui.canvas.mask_layer import MaskLayer


def cached_pixmap_item() -> QGraphicsPixmapItem:
    """A pixmap item that repaints (progress, strokes, the cursor) by blitting what it drew at the
    view's zoom, instead of smooth-scaling a full-size picture every time (redrawn on zoom and
    on a new pixmap)."""
    item = QGraphicsPixmapItem()
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item


class MaskOverlayItem(QGraphicsItem):
    """Scene item drawing a MaskLayer's cached overlay QImage (only the exposed part)."""

    def __init__(self) -> None:
        super().__init__()
        self._image: QImage | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        # Repaints reuse the item drawn at the view's zoom; a stroke redraws only its rect.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_image(self, image: QImage) -> None:
        if image is not self._image:
            self.prepareGeometryChange()
            self._image = image

    def image(self) -> QImage | None:
        return self._image

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF() if self._image is None else QRectF(self._image.rect())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        if self._image is None:
            return
        exposed = option.exposedRect.toAlignedRect().intersected(self._image.rect())
        if not exposed.isEmpty():
            painter.drawImage(exposed, self._image, exposed)


def refresh_overlay(
    item: MaskOverlayItem,
    layer: MaskLayer,
    color: QColor | None,
    mode: str,
    rect: QRect | None = None,
) -> None:
    """Show ``layer``'s overlay in ``item``, repainting only ``rect`` when the image is the same."""
    image = layer.qimage_overlay(color, 1.0, mode)
    if image is item.image() and rect is not None:
        item.update(QRectF(rect))
    else:
        item.set_image(image)
        item.update()


class BrushCursorItem(QGraphicsItem):
    """Scene item drawing the brush outline in device pixels (ignores the view's zoom)."""

    def __init__(self) -> None:
        super().__init__()
        self._radius = 1.0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_radius(self, radius: float) -> None:
        radius = max(1.0, radius)
        if radius != self._radius:
            self.prepareGeometryChange()
            self._radius = radius

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        r = self._radius + 3.0
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((QColor(0, 0, 0, 170), 3.0), (QColor(255, 255, 255, 230), 1.0)):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawEllipse(QPointF(0, 0), self._radius, self._radius)
