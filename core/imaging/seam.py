"""The seam measure: how big a colour step a pass left across its mask's edge.

Two thin bands (``SEAM_BAND`` px, :mod:`core.imaging.edges`) straddle the edge of the used
(blurred) mask: one just inside its core (where the result is all generated), one just outside
it (kept pixels); the blur's ramp lies between them. For every pixel of the inside band, the
local mean colour of the inside band around it is compared with the local mean of the outside
band around it (Gaussian-weighted, reaching across the ramp), as a CIE76 ΔE in CIELAB; the seam
step is the mean of those. Local means make it a colour step, not texture: a noisy picture with
no step scores about as much as the input, and a darker patch on one side of the edge scores
its ΔE. The *original* step is the same measure on the input picture across the same line: what
the picture's own content already changes there (a gradient, an object's outline).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging.edges import SEAM_BAND, MaskEdge, local_mean, mask_edge, seam_bands

MIN_SHARE = 0.01  # an inside pixel with less of the outside band around it is not measured


def seam_step(image: Image.Image, edge: MaskEdge) -> float | None:
    """The mean ΔE76 between the local colours of the two bands in ``image`` (None: no edge)."""
    inside, outside, reach = seam_bands(edge)
    if not inside.any() or not outside.any():
        return None
    lab = edge.crop_lab(image, inside | outside)
    mean_in, _ = local_mean(lab, inside, reach)
    mean_out, share_out = local_mean(lab, outside, reach)
    measured = inside & (share_out >= MIN_SHARE)
    if not measured.any():
        return None
    step = np.sqrt(((mean_in[measured] - mean_out[measured]) ** 2).sum(axis=1))
    return float(step.mean())


def seam_figures(
    original: Image.Image, result: Image.Image, used_mask: Image.Image
) -> dict[str, float]:
    """The pass-record fields ``seam_delta_e`` (the result's step across the edge of
    ``used_mask``) and ``seam_delta_e_original`` (the original's across the same line); empty
    when the mask has no edge (empty, or covering everything). All three share one size."""
    edge = mask_edge(used_mask, SEAM_BAND + 2)
    if edge is None:
        return {}
    after, before = seam_step(result, edge), seam_step(original, edge)
    if after is None or before is None:
        return {}
    return {"seam_delta_e": round(after, 3), "seam_delta_e_original": round(before, 3)}


def seam_band_map(used_mask: Image.Image) -> np.ndarray:
    """(H, W) uint8 map of the bands the measure uses: 1 inside, 2 outside, 0 elsewhere."""
    mask = used_mask if used_mask.mode == "L" else used_mask.convert("L")
    out = np.zeros((mask.height, mask.width), np.uint8)
    edge = mask_edge(mask, SEAM_BAND + 2)
    if edge is None:
        return out
    inside, outside, _ = seam_bands(edge)
    left, top, right, bottom = edge.box
    view = out[top:bottom, left:right]
    view[inside] = 1
    view[outside] = 2
    return out
