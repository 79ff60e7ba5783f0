"""The regional-strength ("strength map") layer and its canvas half.

The strength map is an HxW uint8 layer (255 = strength 1.0, 0 = keep the input byte-identical) sent
as ``PassRequest.strength_map``. Unlike the mask, a stroke *sets* pixels toward the brush value, and
the map has an ``active`` flag: a map that was never painted since the last clear/reset is "no map"
(None), while a map painted to 0 everywhere is a real map that keeps everything.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image
from PySide6.QtCore import QRect, Signal, SignalInstance
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QGraphicsScene

from core.requests import effective_steps
from gui.canvas.mask_layer import BrushSettings, MaskLayer, layer_image
from gui.canvas.overlay_items import MaskOverlayItem, refresh_overlay

DEFAULT_STRENGTH_VALUE = 0.5
STRENGTH_OVERLAY_OPACITY = 0.5


def region_steps(total_steps: int, value: float) -> int:
    """Denoising steps a region painted with ``value`` follows (the engine's count for its byte)."""
    level = round(min(max(float(value), 0.0), 1.0) * 255)
    return effective_steps(total_steps, level / 255 + 1e-9)


class StrengthMapCommand(QUndoCommand):
    """A MaskLayer edit on the strength map together with the map's active flag before/after."""

    def __init__(
        self,
        layer: StrengthLayer,
        inner: QUndoCommand,
        active_before: bool,
        active_after: bool,
        text: str,
    ) -> None:
        super().__init__(text)
        self._layer = layer
        self._inner = inner
        self._active_before = active_before
        self._active_after = active_after

    def redo(self) -> None:
        self._inner.redo()
        self._finish(self._active_after)

    def undo(self) -> None:
        self._inner.undo()
        self._finish(self._active_before)

    def _finish(self, active: bool) -> None:
        if self._inner.isObsolete():
            # The map was reset to another size since this edit: nothing left to restore.
            self.setObsolete(True)
            return
        self._layer._set_active(active)


class StrengthLayer(MaskLayer):
    """The strength map: strokes set pixels toward the brush value; tracks whether it is in use.

    Within a stroke a float coverage buffer keeps the max of the dab alphas and every pixel becomes
    ``before + (target - before) * coverage``: painting 0.3 over 0.8 lowers it, and a hard brush
    writes exactly ``round(value * 255)``. An eraser brush paints 0. Edits return a
    StrengthMapCommand, or None when they would change nothing. ``edited`` is emitted after every
    edit is applied (on push), undone or redone, and after ``reset``.
    """

    edited = Signal()

    def __init__(self, width: int = 0, height: int = 0, brush: BrushSettings | None = None) -> None:
        super().__init__(width, height, brush)
        self._active = False
        self._coverage: np.ndarray | None = None

    @property
    def active(self) -> bool:
        """False when no map is in use (never painted since the last clear or reset)."""
        return self._active

    def image(self) -> Image.Image | None:
        """The map as an L image, or None when it is not in use."""
        return self.to_pil() if self._active else None

    def reset(self, width: int, height: int) -> None:
        """An unused, empty map of the given size (not undoable)."""
        super().reset(width, height)
        self._set_active(False)

    def begin_stroke(self, brush: BrushSettings | None = None) -> None:
        super().begin_stroke(brush)
        self._coverage = np.zeros(self.shape, np.float32)

    def end_stroke(self) -> StrengthMapCommand | None:
        command = super().end_stroke()
        self._coverage = None
        return self._wrap(command, True, "Paint strength map")

    def fill(self, value: float = 1.0) -> StrengthMapCommand | None:
        level = round(min(max(float(value), 0.0), 1.0) * 255)
        if self._active and bool((self._data == level).all()):
            return None
        return self._wrap(super().fill(value), True, "Fill strength map")

    def clear(self) -> StrengthMapCommand | None:
        """Remove the map: all zero and not in use."""
        if not self._active and not self._data.any():
            return None
        return self._wrap(super().clear(), False, "Clear strength map")

    def invert(self) -> StrengthMapCommand | None:
        return self._wrap(super().invert(), True, "Invert strength map")

    def set_array(
        self, arr: np.ndarray, text: str = "Set strength map"
    ) -> StrengthMapCommand | None:
        return self._wrap(super().set_array(arr, text), True, text)

    def _wrap(
        self, inner: QUndoCommand | None, active: bool, text: str
    ) -> StrengthMapCommand | None:
        """The edit plus the active flag it sets, as one command (None when there is no edit)."""
        if inner is None:
            return None
        return StrengthMapCommand(self, inner, self._active, active, text)

    def _set_active(self, active: bool) -> None:
        self._active = bool(active)
        self.edited.emit()

    def _apply_dab(
        self, box: tuple[int, int, int, int], alpha: np.ndarray, brush: BrushSettings
    ) -> None:
        if self._coverage is None or self._coverage.shape != self.shape:
            self._coverage = np.zeros(self.shape, np.float32)
        x0, y0, x1, y1 = box
        coverage = self._coverage[y0:y1, x0:x1]
        np.maximum(coverage, alpha, out=coverage, casting="unsafe")
        stroke_before = self._data if self._stroke_before is None else self._stroke_before
        before = stroke_before[y0:y1, x0:x1].astype(np.float32)
        target = 0 if brush.eraser else round(brush.value * 255)
        self._data[y0:y1, x0:x1] = np.rint(before + (target - before) * coverage).astype(np.uint8)


class StrengthMapMixin:
    """The strength-map half of ``gui.canvas.canvas.Canvas``.

    The "strength" tool paints ``strength_layer`` with the brush's size, hardness and tablet
    pressure at ``strength_value``. The eraser tool acts on the mask only: to lower the map, paint
    a lower value (0 keeps the input). The map is drawn as a heat map (0 clear, blue low .. red
    high) between the image and the mask overlay.
    """

    # Provided by the Canvas this mixes into (it declares the signals).
    brush: BrushSettings
    _image: Image.Image | None
    _undo_stack: QUndoStack
    strength_map_changed: SignalInstance
    strength_value_changed: SignalInstance
    strength_map_visible_changed: SignalInstance

    def _init_strength_map(self, scene: QGraphicsScene, z_value: float) -> None:
        self.strength_layer = StrengthLayer(0, 0, self.brush)
        self._strength_value = DEFAULT_STRENGTH_VALUE
        self._strength_visible = True
        self._strength_item = MaskOverlayItem()
        self._strength_item.setOpacity(STRENGTH_OVERLAY_OPACITY)
        self._strength_item.setZValue(z_value)
        scene.addItem(self._strength_item)
        self.strength_layer.changed.connect(self._refresh_strength_overlay)
        self.strength_layer.edited.connect(self.strength_map_changed)

    @property
    def strength_value(self) -> float:
        """The value (0..1) the strength tool paints and "Fill map" uses."""
        return self._strength_value

    def set_strength_value(self, value: float) -> None:
        value = min(max(float(value), 0.0), 1.0)
        if value != self._strength_value:
            self._strength_value = value
            self.strength_value_changed.emit(value)

    def strength_map_image(self) -> Image.Image | None:
        """The map as an L image (255 = strength 1.0), or None when no map is in use."""
        return self.strength_layer.image()

    def set_strength_map_image(self, image: Image.Image | None) -> None:
        """Replace the map (scaled to the image size); one undo step. None clears it."""
        if image is None:
            self.clear_strength_map()
            return
        picture_size = None if self._image is None else self._image.size
        self._push_strength_edit(self.strength_layer.set_array(layer_image(image, picture_size)))

    def fill_strength_map(self) -> None:
        """Set the whole map to ``strength_value``; one undo step."""
        self._push_strength_edit(self.strength_layer.fill(self._strength_value))

    def clear_strength_map(self) -> None:
        """Remove the map (the next pass uses none); one undo step."""
        self._push_strength_edit(self.strength_layer.clear())

    def set_strength_map_visible(self, visible: bool) -> None:
        visible = bool(visible)
        changed = visible != self._strength_visible
        self._strength_visible = visible
        self._strength_item.setVisible(visible)
        if visible:
            self._refresh_strength_overlay()
        if changed:
            self.strength_map_visible_changed.emit(visible)

    def strength_map_visible(self) -> bool:
        return self._strength_visible

    def _strength_stroke_brush(self) -> BrushSettings:
        self.set_strength_map_visible(True)
        return dataclasses.replace(self.brush, value=self._strength_value, eraser=False)

    def _push_strength_edit(self, command: StrengthMapCommand | None) -> None:
        if command is not None:
            self._undo_stack.push(command)

    def _refresh_strength_overlay(self, rect: QRect | None = None) -> None:
        if self._strength_visible:
            refresh_overlay(self._strength_item, self.strength_layer, None, "heatmap", rect)
