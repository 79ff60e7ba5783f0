"""How two pictures differ: changed-pixel counts (inside / outside a mask), mean and peak change,
mean CIE76 ΔE, and an amplified heat map with a scale bar.

Picture B is resized (Lanczos) to A's size when the sizes differ; a mask (white = inside) is
resized to A's size too. A pixel counts as *inside* the mask where the mask is above 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from core.imaging.lab import rgb_to_lab

MAX_GAIN = 32
LEGEND_HEIGHT = 28

# The heat map's colour ramp: black → purple → red → yellow → white, at these magnitudes.
_RAMP_STOPS = np.array([0, 64, 128, 192, 255], np.float32)
_RAMP_COLOURS = np.array(
    [[0, 0, 0], [96, 0, 160], [220, 30, 40], [255, 200, 0], [255, 255, 255]], np.float32
)
_RAMP = np.stack(
    [np.interp(np.arange(256), _RAMP_STOPS, _RAMP_COLOURS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


@dataclass(frozen=True)
class DifferenceStats:
    """The figures of a comparison; pixel counts are of pixels (any channel differing)."""

    width: int
    height: int
    mask_pixels: int  # pixels inside the mask (0 without a mask)
    changed_pixels: int
    changed_inside_mask: int
    changed_outside_mask: int  # without a mask: the whole picture is "outside"
    changed_outside_mask_fraction: float  # of the pixels outside the mask
    mean_change: float  # mean |A − B| over all pixels and channels, 0–255
    max_change: int
    delta_e: float  # mean CIE76 ΔE (CIELAB) over all pixels

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _rgb(img: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    img = img if img.mode == "RGB" else img.convert("RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img)


def mask_array(mask: Image.Image | None, size: tuple[int, int]) -> np.ndarray | None:
    """The mask as an (H, W) bool array of ``size`` (True = inside, i.e. above 0), or None."""
    if mask is None:
        return None
    mask = mask if mask.mode == "L" else mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    return np.asarray(mask) > 0


def abs_difference(a: Image.Image, b: Image.Image) -> np.ndarray:
    """|A − B| as an (H, W, 3) uint8 array at A's size."""
    left = _rgb(a).astype(np.int16)
    right = _rgb(b, a.size).astype(np.int16)
    return np.abs(left - right).astype(np.uint8)


def difference_stats(
    a: Image.Image, b: Image.Image, mask: Image.Image | None = None
) -> DifferenceStats:
    """Compare ``a`` with ``b`` (resized to ``a``'s size), optionally split by ``mask``."""
    left, right = _rgb(a), _rgb(b, a.size)
    diff = np.abs(left.astype(np.int16) - right.astype(np.int16))
    changed = diff.max(axis=2) > 0
    inside = mask_array(mask, a.size)
    if inside is None:
        inside = np.zeros(changed.shape, bool)
    changed_outside, outside_fraction = _changed_outside(changed, inside)
    ab = rgb_to_lab(left) - rgb_to_lab(right)
    return DifferenceStats(
        width=a.width,
        height=a.height,
        mask_pixels=int(inside.sum()),
        changed_pixels=int(changed.sum()),
        changed_inside_mask=int((changed & inside).sum()),
        changed_outside_mask=changed_outside,
        changed_outside_mask_fraction=outside_fraction,
        mean_change=float(diff.mean()) if diff.size else 0.0,
        max_change=int(diff.max()) if diff.size else 0,
        delta_e=float(np.sqrt((ab.astype(np.float64) ** 2).sum(axis=1)).mean()) if ab.size else 0.0,
    )


def changed_outside(
    before: Image.Image, after: Image.Image, mask: Image.Image | None
) -> dict[str, float | int]:
    """The pass-record fields ``changed_outside_mask`` (pixels) and
    ``changed_outside_mask_fraction`` for a pass that turned ``before`` into ``after``.

    Every pass records them, so only what they need is computed (no colour-space conversion):
    the same figures as :func:`difference_stats`, at a fraction of its cost on a big picture."""
    changed = np.asarray(abs_difference(before, after).any(axis=2))
    count, fraction = _changed_outside(changed, mask_array(mask, before.size))
    return {"changed_outside_mask": count, "changed_outside_mask_fraction": round(fraction, 6)}


def _changed_outside(changed: np.ndarray, inside: np.ndarray | None) -> tuple[int, float]:
    """Changed pixels outside the mask, and their share of the pixels outside it."""
    if inside is None:
        return int(changed.sum()), float(changed.mean()) if changed.size else 0.0
    outside_pixels = int(inside.size - inside.sum())
    count = int((changed & ~inside).sum())
    return count, count / outside_pixels if outside_pixels else 0.0


def heat_map_array(
    a: Image.Image,
    b: Image.Image,
    gain: float = 4,
    mask: Image.Image | None = None,
    outside_only: bool = False,
) -> np.ndarray:
    """(H, W, 3) uint8 heat map of the largest channel difference × ``gain`` (black = none).

    With ``outside_only``, pixels inside ``mask`` are shown black (only changes outside it).
    """
    magnitude = abs_difference(a, b).max(axis=2).astype(np.float32) * float(gain)
    index = np.clip(magnitude, 0, 255).astype(np.uint8)
    if outside_only:
        inside = mask_array(mask, a.size)
        if inside is not None:
            index[inside] = 0
    return _RAMP[index]


def scale_bar(width: int, gain: float, height: int = LEGEND_HEIGHT) -> Image.Image:
    """The heat map's legend: the colour ramp labelled with the |A − B| each end stands for."""
    width = max(width, 64)
    bar_height = max(height // 2, 4)
    ramp = _RAMP[np.linspace(0, 255, width).astype(np.uint8)]
    legend = Image.new("RGB", (width, height), (32, 32, 32))
    legend.paste(Image.fromarray(np.repeat(ramp[None], bar_height, axis=0), "RGB"), (0, 0))
    draw = ImageDraw.Draw(legend)
    saturates = 255 / float(gain)
    right_text = f"≥{saturates:.0f} (×{gain:g})".replace("≥", ">=")
    draw.text((2, bar_height), "0", fill=(230, 230, 230))
    text_width = draw.textlength(right_text)
    draw.text((width - text_width - 2, bar_height), right_text, fill=(230, 230, 230))
    return legend


def heat_map_image(
    a: Image.Image,
    b: Image.Image,
    gain: float = 4,
    mask: Image.Image | None = None,
    outside_only: bool = False,
) -> Image.Image:
    """The heat map with its scale bar underneath (what ``diff -o`` writes)."""
    heat = Image.fromarray(heat_map_array(a, b, gain, mask, outside_only), "RGB")
    legend = scale_bar(heat.width, gain)
    out = Image.new("RGB", (max(heat.width, legend.width), heat.height + legend.height))
    out.paste(heat, (0, 0))
    out.paste(legend, (0, heat.height))
    return out
