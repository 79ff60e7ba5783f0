"""Colour matching in CIELAB, so multi-pass refinement does not drift in colour."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging.lab import lab_stats, lab_to_rgb, rgb_to_lab
from core.imaging.load import normalize_image


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
