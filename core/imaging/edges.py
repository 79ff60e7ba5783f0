"""The geometry around a mask's edge, shared by colour match and the seam measure.

A pass's *used* mask is the one it composited through (blurred, mode "L"): pixels above 0 may
change. Its *core* is where it is fully on (255; a faint mask that never reaches 255 uses the
pixels at half its peak or more); between core and outside lies the blend ramp the blur made.
Everything is worked out in a crop around the mask, so a small mask on a big picture costs little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.imaging.lab import image_lab
from core.imaging.masks import mask_bbox

LOCAL_MEAN_CELLS = 8  # local means are taken on a grid this many cells per radius
SEAM_BAND = 4  # px: the width of the bands on either side of the edge (seam measure, colour match)


@dataclass(frozen=True)
class MaskEdge:
    """Distances around a used mask, in the crop ``box`` (left, top, right, bottom) of the picture.

    ``inside_distance``: for core pixels, the distance to the nearest pixel outside the core (0
    elsewhere). ``outside_distance``: for pixels outside the used mask, the distance to it (0
    inside). ``ramp``: the widest distance from the outside to a ramp pixel (0 without a blur).
    """

    box: tuple[int, int, int, int]
    alpha: np.ndarray  # uint8 used mask in the crop
    inside_distance: np.ndarray
    outside_distance: np.ndarray
    ramp: float

    @property
    def used(self) -> np.ndarray:
        return self.alpha > 0

    @property
    def core(self) -> np.ndarray:
        return self.inside_distance > 0

    def crop_lab(self, image: Image.Image, where: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 3) float32 CIELAB of ``image`` (RGB, the mask's size) inside the crop; with
        ``where`` (a bool map of the crop) only those pixels are converted (the rest are 0)."""
        rgb = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
        left, top, right, bottom = self.box
        part = rgb[top:bottom, left:right]
        if where is None:
            return image_lab(part)
        lab = np.zeros(part.shape, np.float32)
        lab[where] = image_lab(part[where][None])[0]
        return lab


def seam_bands(edge: MaskEdge) -> tuple[np.ndarray, np.ndarray, float]:
    """The two bands straddling the edge (just inside the core, just outside the used mask) and
    how far local means must reach to see one from the other (across the ramp)."""
    inside = edge.core & (edge.inside_distance <= SEAM_BAND)
    outside = ~edge.used & (edge.outside_distance <= SEAM_BAND)
    return inside, outside, edge.ramp + 2.0 * SEAM_BAND + 1.0


def mask_edge(used_mask: Image.Image, margin: int) -> MaskEdge | None:
    """The edge geometry of ``used_mask`` (mode "L") in a crop reaching ``margin`` px beyond it;
    None when the mask is empty or covers the whole picture (no edge)."""
    import cv2

    mask = used_mask if used_mask.mode == "L" else used_mask.convert("L")
    box = mask_bbox(mask)
    if box is None:
        return None
    width, height = mask.size
    left, top = max(0, box[0] - margin), max(0, box[1] - margin)
    right, bottom = min(width, box[2] + margin), min(height, box[3] + margin)
    alpha = np.asarray(mask)[top:bottom, left:right]
    used = alpha > 0
    if used.all():
        return None
    peak = int(alpha.max())
    core = alpha >= 255 if peak == 255 else alpha >= max(1, (peak + 1) // 2)
    # Distances to the nearest zero of each map (OpenCV: exact Euclidean with DIST_MASK_PRECISE).
    inside = cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = cv2.distanceTransform((~used).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_outside = cv2.distanceTransform(used.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp_pixels = used & ~core
    ramp = float(to_outside[ramp_pixels].max()) if ramp_pixels.any() else 0.0
    return MaskEdge((left, top, right, bottom), alpha, inside, outside, ramp)


def local_mean(lab: np.ndarray, weight: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted local means of ``lab`` over the pixels ``weight`` selects, about
    ``radius`` px around each pixel, and the local share of selected pixels (0–1).

    Worked out on a grid coarser by ``radius / LOCAL_MEAN_CELLS`` (area sums keep the weighting
    exact there) and brought back bilinearly: these are low-frequency fields."""
    import cv2

    height, width = weight.shape
    factor = max(1, int(radius // LOCAL_MEAN_CELLS))
    stack: np.ndarray = np.empty((height, width, 4), np.float32)
    stack[..., 3] = weight
    np.multiply(lab, stack[..., 3:], out=stack[..., :3])
    if factor > 1:
        small = (max(1, -(-width // factor)), max(1, -(-height // factor)))
        stack = cv2.resize(stack, small, interpolation=cv2.INTER_AREA)
    sigma = max(radius / factor / 2.0, 0.5)
    stack = cv2.GaussianBlur(stack, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    stack[..., :3] = stack[..., :3] / np.maximum(stack[..., 3:], 1e-6)
    if factor > 1:
        stack = cv2.resize(stack, (width, height), interpolation=cv2.INTER_LINEAR)
    return stack[..., :3], stack[..., 3]
