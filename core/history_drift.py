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


def _used_mask(record: PassRecord, size: tuple[int, int]) -> np.ndarray:
    """The record's mask as the engine applied it (blurred), as a bool array of ``size``."""
    assert record.mask is not None
    blur = record.params.get("mask_blur") or 0
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
    size = record.image.size
    if tree.get(record.parent_id).image.size != size:
        return None  # resized or outpainted: pixels do not line up with the input's
    kept = np.ones((size[1], size[0]), bool)
    for earlier in inpaints:
        kept &= ~_used_mask(earlier, size)
    protected_pixels = int(kept.sum())
    if not protected_pixels:
        return None
    changed = abs_difference(record.image, tree.get(record.parent_id).image).max(axis=2) > 0
    if record.mask is not None:
        changed &= ~_used_mask(record, size)
    changed_protected = int((changed & kept).sum())
    if changed_protected <= DRIFT_TOLERANCE * protected_pixels:
        return None
    names = tuple(r.name for r in inpaints)
    return Drift(record_id, names, protected_pixels, changed_protected)
