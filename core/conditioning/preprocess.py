"""Control images for ControlNet layers, made with OpenCV (no torch: the window previews them).

Every control image is RGB, white features on black, at the size asked for:

- ``canny``: OpenCV's Canny edges of the picture with the layer's two thresholds;
- ``scribble``: a drawing's strokes, thresholded and thickened (thick white lines);
- ``lineart``: a drawing's lines as they are (thin, anti-aliased white lines);
- ``image``: the picture itself, for depth, pose or normal maps made elsewhere.

Drawings are read as white lines on black; ``invert`` reads dark lines on white paper. The
model-based kinds (depth, soft edge, pose) need their detector files on disk
(:mod:`core.conditioning.annotator_files`); without them :func:`control_image` raises a one-line
ModelError saying what to put where.
The picture is resized to the size first (stretched, like A1111's "just resize"), so the
edges are one pixel wide at the size the model works at.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.conditioning.annotator_files import detector_folder
from core.conditioning.specs import MODEL_CONTROL_KINDS, ControlLayer
from core.errors import ModelError

SCRIBBLE_THRESHOLD = 127  # drawing values above this are strokes
SCRIBBLE_THICKEN = 3  # px: strokes are dilated by a square this wide
LINEART_FLOOR = 24  # line-art values at or below this are paper noise


def control_image(layer: ControlLayer, source: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The control image of ``layer`` made from ``source`` (any mode), ``size`` (w, h), RGB."""
    width, height = size
    picture = source.convert("RGB")
    if picture.size != (width, height):
        picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    if layer.kind == "image":
        return picture
    if layer.kind == "canny":
        return canny(picture, layer.low_threshold, layer.high_threshold)
    if layer.kind == "scribble":
        return scribble(picture, layer.invert)
    if layer.kind == "lineart":
        return lineart(picture, layer.invert)
    if layer.kind in MODEL_CONTROL_KINDS:
        folder = detector_folder(layer.kind)
        from core.conditioning.annotators import estimate  # heavier: only with files on disk

        return estimate(layer.kind, folder, picture)
    raise ModelError(f"unknown control type '{layer.kind}'")


def canny(picture: Image.Image, low: int, high: int) -> Image.Image:
    """Canny edges (white on black) of ``picture``'s grey levels, as RGB."""
    import cv2

    grey = np.asarray(picture.convert("L"))
    edges = cv2.Canny(grey, int(low), int(high))
    return Image.fromarray(edges, "L").convert("RGB")


def _lines(picture: Image.Image, invert: bool) -> np.ndarray:
    grey = np.asarray(picture.convert("L"), dtype=np.uint8)
    return 255 - grey if invert else grey


def scribble(drawing: Image.Image, invert: bool = False) -> Image.Image:
    """A scribble control image: the drawing's strokes as thick pure-white lines on black."""
    import cv2

    strokes = np.where(_lines(drawing, invert) > SCRIBBLE_THRESHOLD, 255, 0).astype(np.uint8)
    kernel = np.ones((SCRIBBLE_THICKEN, SCRIBBLE_THICKEN), np.uint8)
    thick = np.asarray(cv2.dilate(strokes, kernel), dtype=np.uint8)
    return Image.fromarray(thick, "L").convert("RGB")


def lineart(drawing: Image.Image, invert: bool = False) -> Image.Image:
    """A line-art control image: the drawing's lines kept soft, faint paper noise cleared."""
    lines = _lines(drawing, invert)
    lines = np.where(lines > LINEART_FLOOR, lines, 0).astype(np.uint8)
    return Image.fromarray(lines, "L").convert("RGB")
