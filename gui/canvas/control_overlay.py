"""The canvas's control-image overlay: the Control panel's shown layer over the picture.

Control images are white features on black (edges, scribbles, line art): drawn with the
"screen" blend, the black disappears and the features light up over the picture. Any size is
stretched over the picture, like the step previews.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
    QWidget,
)

from gui.qt_images import pil_to_qimage


class _ScreenPixmapItem(QGraphicsPixmapItem):
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Screen)
        super().paint(painter, option, widget)  # type: ignore[arg-type]  # Qt passes None too


class ControlOverlay:
    """Shows one control image over ``picture_item`` (the canvas's image) in ``scene``."""

    def __init__(self, scene: QGraphicsScene, picture_item: QGraphicsItem, z_value: float) -> None:
        self._picture_item = picture_item
        self.item = _ScreenPixmapItem()
        self.item.setZValue(z_value)
        self.item.setVisible(False)
        self.item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        scene.addItem(self.item)
        self._image: Image.Image | None = None

    def show_control_image(self, image: Image.Image | None) -> None:
        """Show ``image`` stretched over the picture; None hides the overlay."""
        self._image = image
        if image is None:
            self.item.setVisible(False)
            self.item.setPixmap(QPixmap())
            return
        pixmap = QPixmap.fromImage(pil_to_qimage(image))
        target = self._picture_item.boundingRect()
        if target.isEmpty():
            target = pixmap.rect().toRectF()
        sx = target.width() / max(1, pixmap.width())
        sy = target.height() / max(1, pixmap.height())
        self.item.setPixmap(pixmap)
        self.item.setTransform(QTransform.fromScale(sx, sy))
        self.item.setVisible(True)

    def control_image(self) -> Image.Image | None:
        """The control image shown (None when hidden)."""
        return self._image if self.item.isVisible() else None
