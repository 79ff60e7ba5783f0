"""Masks: mode "L", white (255) = change; blur, bounds and byte-exact compositing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from core.errors import ImageError
from core.imaging.load import (
    _SIXTEEN_BIT_MODES,
    MAX_PIXELS,
    _has_alpha,
    _read_file,
    _sixteen_bit_to_l,
    normalize_image,
)


def _mask_to_l(img: Image.Image) -> Image.Image:
    if img.mode == "La":
        img = img.convert("LA")
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "F":
        return _sixteen_bit_to_l(img)
    if _has_alpha(img):
        alpha = img.convert("RGBA").getchannel("A")
        low, _high = alpha.getextrema()
        if isinstance(low, int | float) and low < 255:
            return alpha
    if img.mode in ("L", "1", "P", "RGB"):
        return img.convert("L")
    return normalize_image(img).convert("L")


def load_mask_file(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A mask or strength map read from a file: mode "L" at the file's own size, white = change.

    When the file has any transparency its alpha is the mask (opaque = change); otherwise its
    luminance is. Raises :class:`ImageError` (one line naming the file) for the same problems as
    :func:`~core.imaging.load.load_image`: missing file, folder, unreadable, over ``max_pixels``.
    """
    img = _read_file(path, max_pixels)
    try:
        return _mask_to_l(img)
    except ImageError as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None


def load_mask(source: str | Path | Image.Image, size: tuple[int, int]) -> Image.Image:
    """A mode "L" mask of ``size`` (w, h), white = change, from a path or any Pillow image.

    When the source has an alpha channel with any transparency, the alpha is the mask (opaque =
    change); otherwise its luminance is. Resized with bilinear filtering.
    """
    mask = _mask_to_l(source) if isinstance(source, Image.Image) else load_mask_file(source)
    size = (int(size[0]), int(size[1]))
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    return mask


def blur_mask(mask: Image.Image, radius_px: float) -> Image.Image:
    """Gaussian-blurred copy of an L mask; ``radius_px`` 0 returns an unchanged copy."""
    mask = mask if mask.mode == "L" else mask.convert("L")
    if radius_px <= 0:
        return mask.copy()
    return mask.filter(ImageFilter.GaussianBlur(radius_px))


def mask_bbox(mask: Image.Image, threshold: int = 0) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) — right/bottom exclusive — of pixels > ``threshold``, or None."""
    arr = np.asarray(mask if mask.mode == "L" else mask.convert("L")) > threshold
    rows = np.flatnonzero(arr.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(arr.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def mask_is_empty(mask: Image.Image) -> bool:
    """True when no pixel of the mask is above 0 (nothing to change)."""
    return mask_bbox(mask) is None


def composite(original: Image.Image, generated: Image.Image, mask: Image.Image) -> Image.Image:
    """Blend ``generated`` over ``original`` through ``mask`` (255 = generated, 0 = original).

    Pixels where the mask is 0 are byte-identical to ``original``; in between the blend is
    rounded. All three must have the same size (ValueError otherwise).
    """
    if not original.size == generated.size == mask.size:
        raise ValueError(
            f"composite needs equal sizes, got original {original.size}, "
            f"generated {generated.size}, mask {mask.size}"
        )
    orig = np.asarray(original if original.mode == "RGB" else original.convert("RGB"))
    gen = np.asarray(generated if generated.mode == "RGB" else generated.convert("RGB"))
    m = np.asarray(mask if mask.mode == "L" else mask.convert("L"))[..., None]
    m16 = m.astype(np.uint16)
    blended = (gen.astype(np.uint16) * m16 + orig.astype(np.uint16) * (255 - m16) + 127) // 255
    out = np.where(m == 0, orig, np.where(m == 255, gen, blended.astype(np.uint8)))
    return Image.fromarray(out.astype(np.uint8), "RGB")


def crop_box(mask: Image.Image, size: tuple[int, int], padding: int) -> tuple[int, int, int, int]:
    """The mask's bounding box grown by ``padding`` px and clamped to the image."""
    box = mask_bbox(mask)
    if box is None:
        return (0, 0, *size)
    left, top, right, bottom = box
    return (
        max(0, left - padding),
        max(0, top - padding),
        min(size[0], right + padding),
        min(size[1], bottom + padding),
    )
