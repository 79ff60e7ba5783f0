"""Deterministic test pictures and masks (used by tests, benchmarks and manual runs)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def make_image(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    """A structured RGB picture: gradients plus a little seeded noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], -1
    )
    noise = rng.integers(0, 40, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def make_mask(
    width: int = 96, height: int = 64, box: tuple[int, int, int, int] | None = None
) -> Image.Image:
    """An L-mode mask, white (change) inside ``box`` (default: the centre third)."""
    mask = Image.new("L", (width, height), 0)
    if box is None:
        box = (width // 3, height // 3, 2 * width // 3, 2 * height // 3)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def make_calm_image(width: int = 96, height: int = 96, seed: int = 0) -> Image.Image:
    """A calm RGB picture: one colour with a soft gradient and seeded noise, so its own colour
    step across any line is small (a seam left by a pass stands out)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([110 + x * 0.4, 140 + y * 0.3, np.full(x.shape, 90.0)], -1)
    noise = rng.normal(0, 8, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
