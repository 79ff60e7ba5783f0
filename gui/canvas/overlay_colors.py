"""The colours of the canvas overlays: a tint of one colour, or a heat map from blue to red."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QPixmap

from gui.qt_images import array_to_qimage

OVERLAY_MODES = ("tint", "heatmap")


def overlay_lut(color: QColor, opacity: float, mode: str) -> np.ndarray:
    """256 premade 0xAARRGGBB pixels, one per mask value (the colours of ``qimage_overlay``)."""
    t = np.arange(256, dtype=np.float64) / 255.0
    opacity = min(max(opacity, 0.0), 1.0)
    if mode == "heatmap":
        stops = [0.0, 0.25, 0.5, 0.75, 1.0]  # blue, cyan, green, yellow, red
        r = np.interp(t, stops, [0, 0, 0, 255, 255])
        g = np.interp(t, stops, [0, 255, 255, 255, 0])
        b = np.interp(t, stops, [255, 255, 0, 0, 0])
        a = np.where(t > 0, opacity * 255.0 * np.minimum(1.0, 0.4 + t), 0.0)
    else:
        r = np.full_like(t, color.red())
        g = np.full_like(t, color.green())
        b = np.full_like(t, color.blue())
        a = t * opacity * color.alpha()
    channels = [np.rint(c).astype(np.uint32) for c in (a, r, g, b)]
    return (channels[0] << 24) | (channels[1] << 16) | (channels[2] << 8) | channels[3]


def heatmap_legend_pixmap(width: int = 96, height: int = 12) -> QPixmap:
    """The strength overlay's colours from low (left, blue) to high (right, red), opaque."""
    lut = overlay_lut(QColor(), 1.0, "heatmap")
    row = lut[np.rint(np.linspace(1, 255, width)).astype(np.int64)]
    rgb = np.stack([(row >> shift) & 0xFF for shift in (16, 8, 0)], axis=-1).astype(np.uint8)
    return QPixmap.fromImage(array_to_qimage(np.repeat(rgb[None], height, axis=0)))
