"""Colour matching in CIELAB: the whole-picture drift guard, and the masked match to the picture
around a repainted area.

**Whole picture** (:func:`match_colors`): per-channel CIELAB mean and deviation matched to a
reference (multi-pass refinement matches every pass to the original).

**Masked** (:func:`match_to_surroundings`): the repainted area is moved, per CIELAB channel, by
offsets taken from the kept picture around the mask, in two parts, so that a change the prompt
asked for is not undone:

1. A *global* offset: the mean of the *ring* (:func:`ring_width` px of kept picture outside the
   used mask) minus the mean of the generated pixels in the first ``ring_width`` px of the mask's
   core (inside the blur's ramp). It moves the whole area, in full when the two differ by at most
   :data:`DRIFT_FULL` ΔE76 (a lighting or saturation drift: the area continues its surroundings,
   only shifted), fading to nothing at :data:`DRIFT_NONE` (the edge shows other content, a red
   coat on a blue one: its colours are kept).
2. A *local* seam offset: the local mean colour of the band just outside the used mask minus that
   of the band just inside the core (the seam measure's bands, :mod:`core.imaging.edges`),
   Gaussian-weighted along the edge and reaching across the ramp. It applies in full across the
   ramp and ``ring_width`` px into the core, fading out over the next ``2 × ring_width`` px, and
   runs twice (the second round takes up what clipping to the sRGB gamut left): the edge meets
   its surroundings whatever was painted, while the middle of the area keeps the model's colours.

Only pixels inside the used mask change; the caller composites through that mask as before, so
pixels outside it stay byte-identical to the input.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging.edges import local_mean, mask_edge, seam_bands
from core.imaging.lab import image_lab, image_rgb, lab_stats, lab_to_rgb, rgb_to_lab
from core.imaging.load import normalize_image

DRIFT_FULL = 10.0  # ΔE76: an edge band this close to the ring is shifted in full, everywhere
DRIFT_NONE = 25.0  # ΔE76: from this far on, only the seam is matched
RING_MIN, RING_MAX = 4, 48  # px
SUPPORT_FULL = 0.05  # local share of ring / band pixels from which the local offset counts fully


def match_colors(image: Image.Image, reference: Image.Image, amount: float = 1.0) -> Image.Image:
    """Colour-drift guard: match ``image``'s per-channel CIELAB mean and standard deviation to
    ``reference``'s, blended by ``amount`` (0 = unchanged, 1 = fully matched). Returns RGB."""
    src = np.asarray(normalize_image(image))
    amount = float(min(max(amount, 0.0), 1.0))
    if amount == 0.0:
        return Image.fromarray(src, "RGB")
    ref_mean, ref_std = lab_stats(rgb_to_lab(np.asarray(normalize_image(reference))))
    lab = rgb_to_lab(src)
    mean, std = lab_stats(lab)
    scale = np.where(std > 1e-6, ref_std / np.maximum(std, 1e-6), 1.0).astype(np.float32)
    lab -= mean.astype(np.float32)
    lab *= scale
    lab += ref_mean.astype(np.float32)
    matched = lab_to_rgb(lab)
    del lab
    flat = src.reshape(-1, 3)
    out = flat + np.float32(amount) * (matched - flat)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(src.shape), "RGB")


def ring_width(area: int) -> int:
    """The ring's width for a used mask of ``area`` pixels: 15% of its side, 4–48 px."""
    return int(min(max(round(0.15 * float(np.sqrt(area))), RING_MIN), RING_MAX))


def drift_weight(delta_e: float) -> float:
    """How much of the global offset applies: 1 up to DRIFT_FULL, 0 from DRIFT_NONE on."""
    return float(np.clip((DRIFT_NONE - delta_e) / (DRIFT_NONE - DRIFT_FULL), 0.0, 1.0))


def match_to_surroundings(
    source: Image.Image, generated: Image.Image, used_mask: Image.Image
) -> Image.Image:
    """``generated`` with the pixels inside ``used_mask`` (mode "L", > 0) colour-matched to the
    ring of ``source`` around them (see the module's docstring); every other pixel is returned
    unchanged. All three share one size; without an edge (empty or full mask) nothing changes."""
    out = np.array(generated.convert("RGB"))
    mask = used_mask if used_mask.mode == "L" else used_mask.convert("L")
    ring = ring_width(int(np.count_nonzero(np.asarray(mask))))
    edge = mask_edge(mask, ring + 2)
    if edge is None:
        return Image.fromarray(out, "RGB")
    ring_pixels = ~edge.used & (edge.outside_distance <= ring)
    band = edge.core & (edge.inside_distance <= ring)  # the core's edge, inside the ramp
    near = edge.used & (edge.inside_distance < 3.0 * ring)  # where the seam offset reaches
    inside, outside, reach = seam_bands(edge)
    # 1. The global offset, weighted by how far the edge band is from the ring.
    source_lab = edge.crop_lab(source, ring_pixels | outside)
    generated_lab = edge.crop_lab(generated, near)
    offset = source_lab[ring_pixels].mean(axis=0) - generated_lab[band].mean(axis=0)
    global_offset = np.float32(drift_weight(float(np.linalg.norm(offset)))) * offset
    # 2. The local seam offset: the band just inside the edge onto the band just outside it,
    #    in full up to ``ring`` px into the core, fading out over the next 2 × ``ring``.
    outside_mean, outside_share = local_mean(source_lab, outside, reach)
    fade = np.clip(1.0 - (edge.inside_distance[near] - ring) / (2.0 * ring), 0.0, 1.0)
    lab = generated_lab[near] + global_offset
    # 3. Twice: the second round takes up what clipping to the sRGB gamut left over.
    for _ in range(2):
        generated_lab[near] = lab
        inside_mean, inside_share = local_mean(generated_lab, inside, reach)
        support = np.clip(np.minimum(outside_share, inside_share)[near] / SUPPORT_FULL, 0, 1)
        step = (support * fade)[:, None] * (outside_mean[near] - inside_mean[near])
        rgb = image_rgb(lab + step)
        lab = image_lab(rgb[None])[0]
    left, top, right, bottom = edge.box
    view = out[top:bottom, left:right]
    view[near] = rgb
    # 4. Deeper inside, the global offset alone (nothing to do when it is none).
    deep = edge.used & ~near
    if deep.any() and np.abs(global_offset).max() > 0.01:
        view[deep] = image_rgb(image_lab(view[deep][None])[0] + global_offset)
    return Image.fromarray(out, "RGB")
