"""The drift guard: did a pass change the parts of the picture an earlier inpaint kept?

*Protected* pixels of a pass are those outside every mask used by the inpaint passes (records
with a mask) on its lineage before it: the parts the user deliberately kept while inpainting.
Each mask counts as the engine used it, blurred by its ``mask_blur``; a pixel is inside where the
blurred mask is above 0. A pass *drifts* when, compared with its input (its parent's picture),
more than :data:`DRIFT_TOLERANCE` of the protected pixels changed outside the pass's own mask.
An inpaint pass therefore never drifts (it keeps every pixel outside its own mask), and a plain
img2img pass over an inpainted picture does as soon as it changes more than that fraction.
Passes with no inpaint before them, and passes whose picture has another size than their
input (upscale, outpaint), are never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.history import PassRecord, PassTree
from core.imaging.difference import abs_difference, mask_array
from core.imaging.masks import blur_mask

DRIFT_TOLERANCE = 0.001  # of the protected pixels
CHECK_PIXELS = 1_000_000  # bigger pictures are compared at about this many pixels (it is a guard)


@dataclass(frozen=True)
class Drift:
    """How much of the protected area a pass changed."""

    record_id: str
    inpaint_names: tuple[str, ...]  # the earlier inpaint passes whose kept pixels changed
    protected_pixels: int
    changed_protected: int

    @property
    def fraction(self) -> float:
        return self.changed_protected / self.protected_pixels if self.protected_pixels else 0.0

    def message(self) -> str:
        names = ", ".join(f"“{name}”" for name in self.inpaint_names)
        return (
            f"This pass changed {self.changed_protected} pixels ({self.fraction:.1%}) that the "
            f"inpaint pass {names} kept outside its mask."
        )


def _used_mask(record: PassRecord, size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """The record's mask as the engine applied it (blurred), as a bool array of ``size``."""
    assert record.mask is not None
    blur = (record.params.get("mask_blur") or 0) * scale
    mask = (
        record.mask
        if record.mask.size == size
        else record.mask.resize(size, Image.Resampling.NEAREST)
    )
    used = mask_array(blur_mask(mask, float(blur)), size)
    assert used is not None
    return used


def pass_drift(tree: PassTree, record_id: str) -> Drift | None:
    """The pass's drift when it changed protected pixels beyond the tolerance, else None."""
    record = tree.get(record_id)
    if record.parent_id is None:
        return None
    inpaints = [r for r in tree.lineage(record_id)[:-1] if r.mask is not None]
    if not inpaints or record.params.get("changed_outside_mask") == 0:
        return None  # nothing to protect, or the pass kept everything outside its own mask
    full = record.image.size
    parent = tree.get(record.parent_id).image
    if parent.size != full:
        return None  # resized or outpainted: pixels do not line up with the input's
    # 1. Big pictures are checked at about CHECK_PIXELS (this runs as history cards appear).
    scale = min(1.0, (CHECK_PIXELS / (full[0] * full[1])) ** 0.5)
    size = (max(1, round(full[0] * scale)), max(1, round(full[1] * scale)))
    after, before = (
        (record.image, parent)
        if size == full
        else (
            record.image.resize(size, Image.Resampling.BOX),
            parent.resize(size, Image.Resampling.BOX),
        )
    )
    # 2. Protected = outside every earlier inpaint mask; count what changed there.
    kept = np.ones((size[1], size[0]), bool)
    for earlier in inpaints:
        kept &= ~_used_mask(earlier, size, scale)
    area = (full[0] * full[1]) / (size[0] * size[1])  # full-size pixels per checked pixel
    protected_pixels = round(int(kept.sum()) * area)
    if not protected_pixels:
        return None
    changed = abs_difference(after, before).max(axis=2) > 0
    if record.mask is not None:
        changed &= ~_used_mask(record, size, scale)
    changed_protected = round(int((changed & kept).sum()) * area)
    if changed_protected <= DRIFT_TOLERANCE * protected_pixels:
        return None
    names = tuple(r.name for r in inpaints)
    return Drift(record_id, names, protected_pixels, changed_protected)
