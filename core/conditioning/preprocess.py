"""Control images for ControlNet layers, made with OpenCV (no torch: the window previews them).

Every control image is RGB, white features on black, at the size asked for:

- ``canny``: OpenCV's Canny edges of the picture with the layer's two thresholds;
- ``scribble``: a drawing's strokes, thresholded and thickened (thick white lines);
- ``lineart``: a drawing's lines as they are (thin, anti-aliased white lines);
- ``image``: the picture itself, for depth, pose or normal maps made elsewhere.

Drawings are read as white lines on black; ``invert`` reads dark lines on white paper. The
model-based kinds (depth, soft edge, pose) need preprocessor weights on disk
(:func:`annotator_folder`); without them :func:`control_image` raises a one-line ModelError.
The picture is resized to the size first (stretched, like A1111's "just resize"), so the
edges are one pixel wide at the size the model works at.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from core.conditioning.specs import MODEL_CONTROL_KINDS, ControlLayer
from core.errors import ModelError

SCRIBBLE_THRESHOLD = 127  # drawing values above this are strokes
SCRIBBLE_THICKEN = 3  # px: strokes are dilated by a square this wide
LINEART_FLOOR = 24  # line-art values at or below this are paper noise
ANNOTATORS_ENV = "IMG2IMG_STUDIO_ANNOTATORS"  # a folder of preprocessor weights, per kind
# Preprocessor weights that load without unpickling (safetensors), by kind: hub repos looked
# for in the Hugging Face cache, or a sub-folder of the same name in the annotators folder.
ANNOTATOR_REPOS: dict[str, tuple[str, ...]] = {
    "depth": ("depth-anything/Depth-Anything-V2-Small-hf", "Intel/dpt-hybrid-midas"),
    "softedge": (),
    "pose": (),
}


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
        folder = annotator_folder(layer.kind)
        from core.conditioning.annotators import estimate  # torch: only with weights on disk

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


def can_make(kind: str) -> bool:
    """Whether a control image of ``kind`` can be made here (the local kinds always; the
    model-based ones when their preprocessor weights are on disk). For the window's list."""
    if kind not in MODEL_CONTROL_KINDS:
        return True
    try:
        annotator_folder(kind)
    except ModelError:
        return False
    return True


def annotator_folder(kind: str) -> Path:
    """The folder holding ``kind``'s preprocessor weights (safetensors) on disk; ModelError when
    there is none."""
    configured = os.environ.get(ANNOTATORS_ENV)
    if configured and (Path(configured) / kind / "config.json").is_file():
        return Path(configured) / kind
    for repo in ANNOTATOR_REPOS.get(kind, ()):
        folder = _cached_snapshot(repo)
        if folder is not None:
            return folder
    places = [f"a {kind}/ folder in ${ANNOTATORS_ENV}"]
    places += [f"{repo} in the Hugging Face cache" for repo in ANNOTATOR_REPOS.get(kind, ())]
    raise ModelError(
        f"the {kind} preprocessor needs its weights on disk ({' or '.join(places)}: not found); "
        f"make the {kind} map elsewhere and use type 'image'"
    )


def _cached_snapshot(repo: str) -> Path | None:
    """The cached snapshot of a hub repo holding a config and safetensors weights, or None."""
    try:
        from huggingface_hub import snapshot_download

        folder = Path(
            snapshot_download(
                repo, allow_patterns=["*.json", "*.safetensors"], local_files_only=True
            )
        )
    except Exception:  # not cached (the error types differ between hub versions)
        return None
    has_weights = any(folder.glob("*.safetensors"))
    return folder if has_weights and (folder / "config.json").is_file() else None
