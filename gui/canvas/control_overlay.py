"""The canvas's control-image overlay: the Control panel's shown layer over the picture.

The control image is drawn nearly opaque (the picture shows faintly through, to check that they
line up), stretched over the picture whatever its size, like the step previews.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from gui.canvas.overlay_items import cached_pixmap_item
from gui.qt_images import pil_to_qimage

OPACITY = 0.85


class ControlOverlay:
    """Shows one control image over ``picture_item`` (the canvas's image) in ``scene``."""

    def __init__(self, scene: QGraphicsScene, picture_item: QGraphicsItem, z_value: float) -> None:
        self._picture_item = picture_item
        self.item = cached_pixmap_item()
        self.item.setOpacity(OPACITY)
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
