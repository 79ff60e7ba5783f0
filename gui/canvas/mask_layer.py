"""Mask painting: brush settings, a uint8 mask layer with soft round dabs, and its undo commands.

One drag is one undo step: ``begin_stroke`` snapshots the layer, ``stroke_to`` stamps interpolated
dabs, ``end_stroke`` returns a single ``MaskStrokeCommand`` holding only the touched bounding box.
Whole-layer edits (clear, invert, fill, set_array) apply at once and return their command too. Every
command skips its first ``redo()`` (the data is already there when it is pushed).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QColor, QImage, QUndoCommand

from gui.canvas.overlay_colors import OVERLAY_MODES, overlay_lut

MIN_BRUSH_SIZE = 1
MAX_BRUSH_SIZE = 1000


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass
class BrushSettings:
    """Brush for mask painting; values are clamped on assignment."""

    size: int = 48
    hardness: float = 0.8
    eraser: bool = False
    value: float = 1.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "size":
            value = int(_clamp(round(value), MIN_BRUSH_SIZE, MAX_BRUSH_SIZE))
        elif name in ("hardness", "value"):
            value = float(_clamp(float(value), 0.0, 1.0))
        elif name == "eraser":
            value = bool(value)
        super().__setattr__(name, value)


class MaskEditCommand(QUndoCommand):
    """Swaps a rectangular block of a MaskLayer between its before and after contents.

    With ``replace=True`` the blocks are whole arrays (the layer size may change).
    """

    def __init__(
        self,
        layer: MaskLayer,
        origin: tuple[int, int],
        before: np.ndarray,
        after: np.ndarray,
        text: str,
        replace: bool = False,
    ) -> None:
        super().__init__(text)
        self._layer = layer
        self._origin = origin
        self._before = before
        self._after = after
        self._replace = replace
        self._layer_shape = layer.shape
        self._skip_redo = True

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._apply(self._after)

    def undo(self) -> None:
        self._apply(self._before)

    def _apply(self, block: np.ndarray) -> None:
        if self._replace:
            self._layer._replace(block)
        elif self._layer.shape == self._layer_shape:
            self._layer._write(self._origin, block)
        else:
            # The layer was reset to another size since this edit: nothing left to restore.
            self.setObsolete(True)


class MaskStrokeCommand(MaskEditCommand):
    """One painted or erased stroke (before/after of the touched bounding box only)."""


class MaskLayer(QObject):
    """An HxW uint8 mask (0 keep .. 255 change) with stroke painting and cached overlay images.

    ``changed`` carries the touched rectangle in image pixels.
    """

    changed = Signal(QRect)

    def __init__(self, width: int = 0, height: int = 0, brush: BrushSettings | None = None) -> None:
        super().__init__()
        self.brush = brush if brush is not None else BrushSettings()
        self._data = np.zeros((max(0, height), max(0, width)), np.uint8)
        self._stroke_brush: BrushSettings | None = None
        self._stroke_before: np.ndarray | None = None
        self._stroke_box: list[int] | None = None  # x0, y0, x1, y1 (exclusive)
        self._last_point: tuple[float, float, float] | None = None
        self._since_dab = 0.0
        self._overlay: QImage | None = None
        self._overlay_key: tuple | None = None
        self._overlay_lut = np.zeros(256, np.uint32)
        self._overlay_dirty = QRect()

    # ---- plain accessors -------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self._data.shape[1]

    @property
    def height(self) -> int:
        return self._data.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), like the numpy array."""
        return self._data.shape

    def rect(self) -> QRect:
        """The whole layer as a QRect."""
        return QRect(0, 0, self.width, self.height)

    def array(self) -> np.ndarray:
        """A copy of the mask values (HxW uint8)."""
        return self._data.copy()

    def is_empty(self) -> bool:
        """True when no pixel is set."""
        return not self._data.any()

    def to_pil(self) -> Image.Image:
        """The mask as an L image."""
        return Image.fromarray(self._data.copy(), "L")

    # ---- non-undoable size changes ---------------------------------------------------------
    def reset(self, width: int, height: int) -> None:
        """Replace the mask with an empty one of the given size (not undoable)."""
        self._replace(np.zeros((height, width), np.uint8))

    def resize(self, width: int, height: int) -> None:
        """Rescale the mask content to a new size (bilinear, not undoable)."""
        if (height, width) == self.shape:
            return
        if self._data.size == 0:
            self.reset(width, height)
            return
        scaled = self.to_pil().resize((width, height), Image.Resampling.BILINEAR)
        self._replace(np.asarray(scaled, np.uint8))

    # ---- strokes ---------------------------------------------------------------------------
    @property
    def is_stroking(self) -> bool:
        return self._stroke_before is not None

    def begin_stroke(self, brush: BrushSettings | None = None) -> None:
        """Start one undoable stroke with ``brush`` (default: ``self.brush``), snapshotting it."""
        self._stroke_brush = dataclasses.replace(brush if brush is not None else self.brush)
        self._stroke_before = self._data.copy()
        self._stroke_box = None
        self._last_point = None
        self._since_dab = 0.0

    def stroke_to(self, x: float, y: float, pressure: float = 1.0) -> None:
        """Stamp dabs from the previous point to (x, y) in image pixels; pressure scales size."""
        if not self.is_stroking:
            self.begin_stroke()
        brush = self._stroke_brush
        assert brush is not None  # set by begin_stroke
        pressure = _clamp(float(pressure), 0.05, 1.0)
        box: list[int] | None = None
        lx, ly, lp = self._last_point or (x, y, pressure)
        length = math.hypot(x - lx, y - ly)
        if self._last_point is None:
            box = self._stamp(x, y, pressure, brush)
        elif length > 0:
            # Dabs every size/4 pixels (at the lower pressure) along the segment: no gaps.
            spacing = max(0.25, brush.size * min(lp, pressure) / 4.0)
            distance = max(0.0, spacing - self._since_dab)
            last_dab = None
            while distance <= length:
                t = distance / length
                dab_box = self._stamp(
                    lx + (x - lx) * t, ly + (y - ly) * t, lp + (pressure - lp) * t, brush
                )
                box = _union(box, dab_box)
                last_dab = distance
                distance += spacing
            if last_dab is None:
                self._since_dab += length
            else:
                self._since_dab = length - last_dab
        self._last_point = (float(x), float(y), pressure)
        if box is not None:
            self._stroke_box = _union(self._stroke_box, box)
            self._mark_changed(QRect(box[0], box[1], box[2] - box[0], box[3] - box[1]))

    def end_stroke(self) -> QUndoCommand | None:
        """Finish the stroke; returns its command (None when no pixel changed)."""
        before, brush = self._stroke_before, self._stroke_brush
        if before is None or brush is None:
            return None
        if self._last_point is not None and self._since_dab > 1e-6:
            # Finish exactly under the pointer: the last spaced dab may fall short of it.
            x, y, pressure = self._last_point
            self._since_dab = 0.0
            box = self._stamp(x, y, pressure, brush)
            if box is not None:
                self._stroke_box = _union(self._stroke_box, box)
                self._mark_changed(QRect(box[0], box[1], box[2] - box[0], box[3] - box[1]))
        box = self._stroke_box
        self._stroke_before = self._stroke_box = self._stroke_brush = self._last_point = None
        if box is None:
            return None
        x0, y0, x1, y1 = box
        old = before[y0:y1, x0:x1].copy()
        new = self._data[y0:y1, x0:x1].copy()
        if np.array_equal(old, new):
            return None
        text = "Erase mask" if brush.eraser else "Paint mask"
        return MaskStrokeCommand(self, (x0, y0), old, new, text)

    def _stamp(
        self, cx: float, cy: float, pressure: float, brush: BrushSettings
    ) -> list[int] | None:
        """Stamp one soft round dab centred at (cx, cy); returns its clipped box or None."""
        radius = max(0.5, brush.size * pressure / 2.0)
        x0 = max(0, math.floor(cx - radius - 0.5))
        y0 = max(0, math.floor(cy - radius - 0.5))
        x1 = min(self.width, math.ceil(cx + radius + 0.5))
        y1 = min(self.height, math.ceil(cy + radius + 0.5))
        if x0 >= x1 or y0 >= y1:
            return None
        dx = np.arange(x0, x1, dtype=np.float32) + 0.5 - cx
        dy = np.arange(y0, y1, dtype=np.float32) + 0.5 - cy
        dist = np.sqrt(dx[None, :] ** 2 + dy[:, None] ** 2)
        # Full strength inside radius * hardness, smoothstep to 0 at the rim (at least 1 px wide).
        edge = max(radius * (1.0 - brush.hardness), 1.0)
        u = np.clip((radius + 0.5 - dist) / edge, 0.0, 1.0)
        alpha = u * u * (3.0 - 2.0 * u)
        self._apply_dab((x0, y0, x1, y1), alpha, brush)
        return [x0, y0, x1, y1]

    def _apply_dab(
        self, box: tuple[int, int, int, int], alpha: np.ndarray, brush: BrushSettings
    ) -> None:
        """Combine one dab's coverage (0..1 over ``box``): paint takes the max, erase the min."""
        x0, y0, x1, y1 = box
        region = self._data[y0:y1, x0:x1]
        if brush.eraser:
            np.minimum(region, np.rint((1.0 - alpha) * 255.0).astype(np.uint8), out=region)
        else:
            np.maximum(region, np.rint(alpha * (brush.value * 255.0)).astype(np.uint8), out=region)

    # ---- undoable whole-layer edits --------------------------------------------------------
    def clear(self) -> QUndoCommand | None:
        """Set every pixel to 0."""
        return self._edit(np.zeros_like(self._data), "Clear mask")

    def invert(self) -> QUndoCommand | None:
        """Swap painted and unpainted (v -> 255 - v)."""
        return self._edit(255 - self._data, "Invert mask")

    def fill(self, value: float = 1.0) -> QUndoCommand | None:
        """Set every pixel to ``value`` (0..1, default fully painted)."""
        level = int(round(_clamp(value, 0.0, 1.0) * 255))
        return self._edit(np.full_like(self._data, level), "Fill mask")

    def set_array(self, arr: np.ndarray, text: str = "Set mask") -> QUndoCommand | None:
        """Replace the mask with ``arr`` (HxW; bool, 0..255 or 0..1 floats); the size may change."""
        arr = np.asarray(arr)
        if arr.ndim != 2:
            raise ValueError(f"expected an HxW mask array, got shape {arr.shape}")
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        elif np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = np.rint(arr * 255.0)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
        if arr.shape != self.shape:
            command = MaskEditCommand(self, (0, 0), self._data.copy(), arr.copy(), text, True)
            self._replace(arr)
            return command
        return self._edit(arr, text)

    def _edit(self, new: np.ndarray, text: str) -> MaskEditCommand:
        """Apply ``new`` now and return a command holding only the differing bounding box."""
        diff = new != self._data
        rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        if rows.size == 0:
            empty = np.zeros((0, 0), np.uint8)
            return MaskEditCommand(self, (0, 0), empty, empty, text)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        old = self._data[y0:y1, x0:x1].copy()
        block = np.ascontiguousarray(new[y0:y1, x0:x1])
        self._write((int(x0), int(y0)), block)
        return MaskEditCommand(self, (int(x0), int(y0)), old, block.copy(), text)

    # ---- low-level writes (used by commands) -----------------------------------------------
    def _write(self, origin: tuple[int, int], block: np.ndarray) -> None:
        x, y = origin
        h, w = block.shape
        if h == 0 or w == 0:
            return
        self._data[y : y + h, x : x + w] = block
        self._mark_changed(QRect(x, y, w, h))

    def _replace(self, arr: np.ndarray) -> None:
        self._data = np.array(arr, np.uint8, copy=True)
        self._overlay = None
        self._mark_changed(self.rect())

    def _mark_changed(self, rect: QRect) -> None:
        self._overlay_dirty = self._overlay_dirty.united(rect)
        self.changed.emit(rect)

    # ---- display ---------------------------------------------------------------------------
    def qimage_overlay(
        self, color: QColor | None = None, opacity: float = 0.5, mode: str = "tint"
    ) -> QImage:
        """A cached ARGB32 image tinting the mask for display; only dirty areas are re-rendered.

        ``mode`` "tint" uses ``color`` with alpha = value * opacity; "heatmap" maps 0 to
        transparent and low..high values to blue..red. The returned image is shared: don't modify.
        """
        if mode not in OVERLAY_MODES:
            raise ValueError(f"unknown overlay mode {mode!r}")
        color = QColor(255, 0, 0) if color is None else QColor(color)
        key = (color.rgba(), round(float(opacity), 4), mode)
        if self._data.size == 0:
            return QImage()
        overlay = self._overlay
        if overlay is None or overlay.size() != self.rect().size() or key != self._overlay_key:
            overlay = self._overlay = QImage(self.width, self.height, QImage.Format.Format_ARGB32)
            self._overlay_key = key
            self._overlay_lut = overlay_lut(color, float(opacity), mode)
            self._overlay_dirty = QRect()
            self._render_overlay_region(self.rect())
        elif not self._overlay_dirty.isEmpty():
            dirty = self._overlay_dirty.intersected(self.rect())
            self._overlay_dirty = QRect()
            if not dirty.isEmpty():
                self._render_overlay_region(dirty)
        return overlay

    def _render_overlay_region(self, rect: QRect) -> None:
        image = self._overlay
        if image is None:
            return
        pixels = np.frombuffer(image.bits(), np.uint32, count=image.sizeInBytes() // 4)
        pixels = pixels.reshape(image.height(), image.bytesPerLine() // 4)
        x0, y0, x1, y1 = rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1
        pixels[y0:y1, x0:x1] = self._overlay_lut[self._data[y0:y1, x0:x1]]


def layer_image(image: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    """``image`` as an HxW uint8 layer array: grey levels, scaled (bilinear) to ``size``."""
    image = image.convert("L")
    if size is not None and image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image)


def _union(box: list[int] | None, other: list[int] | None) -> list[int] | None:
    if box is None:
        return other
    if other is None:
        return box
    return [
        min(box[0], other[0]),
        min(box[1], other[1]),
        max(box[2], other[2]),
        max(box[3], other[3]),
    ]
