"""Filling the margins of an expanded canvas from the picture's edges (numpy + Pillow), and
filling a masked area from its surroundings (OpenCV).

The edge pixels are repeated outwards, then blurred progressively: a pixel ``d`` px from the
picture takes a Gaussian blur of radius about ``d / 2``, so the fill continues each edge colour
right at the seam and turns into a soft wash of the nearby colours further out.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

_RADII = (0, 2, 4, 8, 16, 32, 64, 128)


def edge_fill(image: Image.Image, left: int, top: int, right: int, bottom: int) -> Image.Image:
    """``image`` (RGB) padded by the given px per side; the new pixels are the repeated edge,
    blurred more the further they are from the picture. The picture's own bytes are kept."""
    src = np.asarray(image.convert("RGB"))
    padded = np.pad(src, ((top, bottom), (left, right), (0, 0)), mode="edge")
    h, w = padded.shape[:2]
    ys, xs = np.arange(h), np.arange(w)
    dy = np.maximum(np.maximum(top - ys, ys - (top + src.shape[0] - 1)), 0)
    dx = np.maximum(np.maximum(left - xs, xs - (left + src.shape[1] - 1)), 0)
    level = np.hypot(dy[:, None], dx[None, :]) / 2.0  # the blur radius each pixel wants
    base = Image.fromarray(padded, "RGB")
    out = padded.astype(np.float32)
    lower = out.copy()
    for low, high in zip(_RADII, _RADII[1:], strict=False):
        upper = np.asarray(base.filter(ImageFilter.GaussianBlur(high)), np.float32)
        t = np.clip((level - low) / (high - low), 0.0, 1.0)[..., None]
        band = (level > low)[..., None]
        out = np.where(band, lower * (1 - t) + upper * t, out)
        lower = upper
    filled = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    filled[top : top + src.shape[0], left : left + src.shape[1]] = src
    return Image.fromarray(filled, "RGB")


def masked_fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """``image`` (RGB) with the pixels under ``mask`` (L, same size, > 127) painted over from
    their surroundings (OpenCV's Telea inpainting): A1111's "fill" masked content, so a pass
    at low strength does not keep what the mask covered. Other pixels are kept byte for byte."""
    import cv2

    src = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    hole = (np.asarray(mask.convert("L")) > 127).astype(np.uint8)
    if not hole.any():
        return image.convert("RGB")
    filled = cv2.inpaint(src, hole, 3, cv2.INPAINT_TELEA)
    filled[hole == 0] = src[hole == 0]
    return Image.fromarray(filled, "RGB")
