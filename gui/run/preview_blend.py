"""Inpaint step previews shown as the result will be: the preview through the mask over the picture.

An inpaint pass changes only the masked area, yet its step preview is the whole generated picture
("Whole picture") or the mask's padded box ("Only masked"). Blended here, on the worker thread
that already scales the preview for display, the unmasked area stays the picture, as in the
result. The picture and the blurred mask at the display size are made once per pass, at the
first preview; each step costs one resize and one integer blend of display-sized arrays.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from core.imaging import blur_mask, crop_box, load_mask
from core.requests import PassRequest

Size = tuple[int, int]
Box = tuple[int, int, int, int]
Layers = tuple[Size, np.ndarray, np.ndarray, Box]  # size, picture, alpha, the preview's box


class PreviewBlend:
    """Blends step previews of one inpaint pass over its picture (call ``apply`` off the GUI
    thread)."""

    def __init__(
        self, picture: Image.Image, mask: Image.Image, blur: int, crop_padding: int | None
    ) -> None:
        self._picture = picture
        self._mask = mask
        self._blur = blur
        self._crop_padding = crop_padding  # None: the preview is the whole picture
        self._lock = threading.Lock()
        self._layers: Layers | None = None

    @classmethod
    def for_request(cls, request: PassRequest) -> PreviewBlend | None:
        """The blend for ``request``'s previews, or None when they show the whole change (no
        mask, or a painted strength map: those previews are shown as they come)."""
        if request.mask is None or request.strength_map is not None:
            return None
        # Soft inpainting generates the whole picture (differential), whatever the area says.
        cropped = request.inpaint_area == "masked" and not request.soft_inpaint
        padding = request.padding if cropped else None
        return cls(request.image, request.mask, request.mask_blur, padding)

    def fallback_size(self, max_side: int) -> Size:
        """The size to show previews at when the screen's is unknown: the picture's, at most
        ``max_side`` on its long side."""
        width, height = self._picture.size
        scale = min(1.0, max_side / max(width, height))
        return max(1, round(width * scale)), max(1, round(height * scale))

    def apply(self, preview: np.ndarray, size: Size) -> np.ndarray:
        """The H×W×3 uint8 ``preview`` at ``size`` (w, h), blended over the picture: 0 mask
        leaves the picture's pixels exactly as they are."""
        size, picture, alpha, box = self._prepared(size)
        generated = picture.copy()
        left, top, right, bottom = box
        if right > left and bottom > top:
            scaled = Image.fromarray(preview).resize((right - left, bottom - top), _RESAMPLE)
            generated[top:bottom, left:right] = np.asarray(scaled.convert("RGB"))
        blended = picture * (255 - alpha) + generated * alpha + 127
        return (blended // 255).astype(np.uint8)

    def _prepared(self, size: Size) -> Layers:
        with self._lock:
            layers = self._layers
            if layers is None or layers[0] != size:
                layers = self._layers = self._make_layers(size)
            return layers

    def _make_layers(self, size: Size) -> Layers:
        full = self._picture.size
        picture = self._picture.convert("RGB")
        if picture.size != size:
            picture = picture.resize(size, _RESAMPLE)
        blurred = blur_mask(load_mask(self._mask, full), self._blur)  # as the engine blends
        padding = self._crop_padding
        box = (0, 0, *full) if padding is None else crop_box(blurred, full, padding)
        sx, sy = size[0] / full[0], size[1] / full[1]
        left, top = int(box[0] * sx), int(box[1] * sy)
        right = min(size[0], max(left + 1, round(box[2] * sx)))
        bottom = min(size[1], max(top + 1, round(box[3] * sy)))
        scaled_box = (left, top, right, bottom)
        alpha = np.asarray(blurred.resize(size, _RESAMPLE), dtype=np.uint16)[..., None]
        return size, np.asarray(picture, dtype=np.uint16), alpha, scaled_box


_RESAMPLE = Image.Resampling.BILINEAR
