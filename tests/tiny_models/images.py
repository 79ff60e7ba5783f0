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


def make_textured_image(width: int = 256, height: int = 192, seed: int = 0) -> Image.Image:
    """A photo-like RGB picture: smooth multi-scale texture with a few sharp-edged shapes (what
    alignment and matching need; ``make_image``'s per-pixel noise has no structure to follow)."""
    rng = np.random.default_rng(seed)
    texture = np.zeros((height, width, 3), np.float64)
    for cells, weight in ((4, 1.0), (12, 0.6), (32, 0.35)):
        coarse = rng.random((cells, max(2, cells * width // height), 3)) * 255
        layer = Image.fromarray(coarse.astype(np.uint8), "RGB").resize(
            (width, height), Image.Resampling.BICUBIC
        )
        texture += weight * np.asarray(layer, np.float64)
    texture = texture / 1.95
    picture = Image.fromarray(np.clip(texture, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (
            int(rng.integers(width // 12, width // 4)),
            int(rng.integers(height // 12, height // 4)),
        )
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=colour)
    return picture


def make_calm_image(width: int = 96, height: int = 96, seed: int = 0) -> Image.Image:
    """A calm RGB picture: one colour with a soft gradient and seeded noise, so its own colour
    step across any line is small (a seam left by a pass stands out)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([110 + x * 0.4, 140 + y * 0.3, np.full(x.shape, 90.0)], -1)
    noise = rng.normal(0, 8, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
