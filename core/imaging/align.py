"""Aligning an edit model's output with its input: the shift and scale it moved the picture by.

Instruction-edit models (Qwen-Image-Edit, FLUX Kontext) return the picture moved by a few pixels
and zoomed by a percent or so. Before only the masked area is pasted back, the result is aligned
to the input from the area that should not have changed (outside the mask): OpenCV's ECC
(``findTransformECCWithMask``, affine, coarse to fine over an image pyramid, sub-pixel) measures
the movement, which is reduced to a shift and a scale about the picture's centre, and
``warpAffine`` undoes it. When it cannot be measured — a flat picture, too little unmasked area,
no convergence, a poor match, an implausibly large movement — the :class:`Alignment` says why
and nothing is changed. Pure OpenCV and numpy.

Coordinates: the output's pixel at ``scale · (p − centre) + centre + (dx, dy)`` shows the input's
pixel ``p`` (pixel centres at integer coordinates, as OpenCV's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

MIN_UNMASKED_FRACTION = 0.05  # of the picture
MIN_UNMASKED_PIXELS = 256
MIN_CONTRAST = 2.0 / 255.0  # standard deviation of grey levels in the unmasked area
MIN_CONFIDENCE = 0.6  # correlation coefficient of the aligned unmasked areas
MAX_SHIFT_FRACTION = 0.1  # of the picture's side
MAX_SCALE_CHANGE = 0.1
COARSEST_SIDE = 48  # the pyramid stops halving before the short side falls below this
FINEST_SIDE = 512  # levels with a longer side are skipped (sub-pixel already; 10× faster at 1 MP)


@dataclass(frozen=True)
class Alignment:
    """How the output moved against the input, or why that could not be told (``reason``)."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    confidence: float = 0.0  # ECC correlation coefficient of the aligned unmasked areas (0–1)
    reason: str = ""  # empty when estimated

    @property
    def estimated(self) -> bool:
        return not self.reason

    def record(self) -> dict[str, Any]:
        """For the pass record: the movement measured (and undone), or why it was not."""
        if not self.estimated:
            return {"alignment": {"estimated": False, "reason": self.reason}}
        return {
            "alignment": {
                "estimated": True,
                "dx": round(self.dx, 3),
                "dy": round(self.dy, 3),
                "scale": round(self.scale, 5),
                "confidence": round(self.confidence, 4),
            }
        }


def estimate_alignment(
    reference: Image.Image, moved: Image.Image, mask: Image.Image | None = None
) -> Alignment:
    """How ``moved`` (same size as ``reference``) is shifted and scaled against ``reference``,
    measured where ``mask`` (L, white = edited) is black; a reason instead when it cannot be."""
    import cv2

    if moved.size != reference.size:
        return Alignment(reason=f"the output is {moved.size} and the input {reference.size}")
    ref, out = _grey(reference), _grey(moved)
    valid = np.ones(ref.shape, np.uint8) if mask is None else _unmasked(mask, ref.shape)
    count = int(valid.sum())
    if count < max(MIN_UNMASKED_PIXELS, MIN_UNMASKED_FRACTION * valid.size):
        return Alignment(reason=f"too little unmasked area to align on ({count} pixels)")
    if float(ref[valid > 0].std()) < MIN_CONTRAST:
        return Alignment(reason="the unmasked area is too flat to align on")
    try:
        warp, confidence = _coarse_to_fine(ref, out, valid * 255)
    except cv2.error:
        return Alignment(reason="the alignment did not converge")
    return _as_shift_and_scale(warp, confidence, ref.shape)


def apply_alignment(moved: Image.Image, alignment: Alignment) -> Image.Image:
    """``moved`` with the measured movement undone (edges repeat the border pixels); unchanged
    when the alignment was not estimated."""
    import cv2

    if not alignment.estimated:
        return moved
    rgb = np.asarray(moved.convert("RGB"))
    warp = _warp_matrix(alignment, rgb.shape[:2])
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    size = (rgb.shape[1], rgb.shape[0])
    aligned = cv2.warpAffine(rgb, warp, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(aligned, "RGB")


def move(image: Image.Image, dx: float, dy: float, scale: float) -> Image.Image:
    """``image`` shifted by (dx, dy) and scaled by ``scale`` about its centre, as an edit model
    moves its output (for tests and benchmarks of the alignment)."""
    import cv2

    rgb = np.asarray(image.convert("RGB"))
    warp = _warp_matrix(Alignment(dx, dy, scale), rgb.shape[:2])
    size = (rgb.shape[1], rgb.shape[0])
    moved = cv2.warpAffine(rgb, warp, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(moved, "RGB")


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), np.float32) / 255.0


def _unmasked(mask: Image.Image, shape: tuple[int, ...]) -> np.ndarray:
    """1 where the mask is black (the area that should not have changed), else 0."""
    arr = np.asarray(mask.convert("L").resize((shape[1], shape[0]), Image.Resampling.NEAREST))
    return (arr == 0).astype(np.uint8)


def _centre(shape: tuple[int, ...]) -> np.ndarray:
    return np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])


def _warp_matrix(alignment: Alignment, shape: tuple[int, ...]) -> np.ndarray:
    """The 2×3 forward matrix: input coordinates → output coordinates."""
    s = alignment.scale
    tx, ty = (1.0 - s) * _centre(shape) + np.array([alignment.dx, alignment.dy])
    return np.array([[s, 0.0, tx], [0.0, s, ty]], np.float32)


def _pyramid(image: np.ndarray) -> list[np.ndarray]:
    """``image`` and its halvings, coarsest first."""
    import cv2

    levels = [image]
    while min(levels[-1].shape[:2]) // 2 >= COARSEST_SIDE:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels[::-1]


def _coarse_to_fine(
    ref: np.ndarray, out: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, float]:
    """The affine warp (output coordinates of each input pixel, at full size) and its
    correlation. pyrDown keeps every second pixel, so a translation doubles per finer level."""
    import cv2

    warp: Any = np.eye(2, 3, dtype=np.float32)
    confidence = 0.0
    levels = list(zip(_pyramid(ref), _pyramid(out), _pyramid(valid), strict=True))
    used = [level for level in levels if max(level[0].shape) <= FINEST_SIDE] or levels[:1]
    for index, (ref_level, out_level, valid_level) in enumerate(used):
        if index:
            warp[:, 2] *= 2.0
        iterations = 100 if index == 0 else 30  # finer levels start close to the answer
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
        level_mask = (valid_level > 127).astype(np.uint8) * 255
        confidence, warp = cv2.findTransformECCWithMask(
            ref_level, out_level, level_mask, level_mask, warp, cv2.MOTION_AFFINE, criteria, 5
        )
    warp[:, 2] *= 2.0 ** (len(levels) - len(used))  # back to full size
    return warp, float(confidence)


def _as_shift_and_scale(warp: np.ndarray, confidence: float, shape: tuple[int, ...]) -> Alignment:
    """The affine warp reduced to a scale about the centre and a shift, checked for sense."""
    scale = float(warp[0, 0] + warp[1, 1]) / 2.0
    dx, dy = warp[:, 2] - (1.0 - scale) * _centre(shape)
    if confidence < MIN_CONFIDENCE:
        return Alignment(
            float(dx),
            float(dy),
            scale,
            confidence,
            "the output does not match "
            f"the input outside the mask well enough (correlation {confidence:.2f})",
        )
    side = min(shape[:2])
    if max(abs(dx), abs(dy)) > MAX_SHIFT_FRACTION * side or abs(scale - 1) > MAX_SCALE_CHANGE:
        return Alignment(
            float(dx),
            float(dy),
            scale,
            confidence,
            "the measured movement "
            f"(shift {dx:.1f}, {dy:.1f} px, scale {scale:.3f}) is implausibly large",
        )
    return Alignment(float(dx), float(dy), scale, confidence)
