"""Soft inpainting: the blurred mask as a per-pixel strength map for the differential path.

Instead of repainting everything under the mask at one strength and cutting it in through the
blurred edge, each pixel gets ``strength × blurred mask / 255``: the mask's centre changes fully
at the chosen strength, its blurred edge ramps down to 0 (so the change fades in without a seam),
and pixels outside the blurred mask keep the input's bytes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging import blur_mask


def soft_strength_map(
    mask: Image.Image,
    blur: int,
    strength: float,
    strength_map: Image.Image | None = None,
) -> Image.Image:
    """The map soft inpainting runs with (mode "L", 255 = 1.0): the blurred ``mask`` (same size,
    mode "L") times ``strength``, or times ``strength_map`` when one is given."""
    blurred = np.asarray(blur_mask(mask, blur), np.float64) / 255.0
    if strength_map is None:
        base = np.full(blurred.shape, float(strength) * 255.0)
    else:
        base = np.asarray(strength_map, np.float64)
    values = np.clip(np.rint(base * blurred), 0, 255).astype(np.uint8)
    return Image.fromarray(values, "L")
