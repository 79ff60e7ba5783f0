"""Pixel-level helpers of the engine (no Qt, no torch): load, masks, composite, colour."""

from core.imaging.colour import match_colors
from core.imaging.load import (
    MAX_PIXELS,
    SUPPORTED_FORMATS,
    fit_within,
    load_image,
    normalize_image,
    open_image,
    resize_to,
)
from core.imaging.masks import (
    blur_mask,
    composite,
    crop_box,
    load_mask,
    load_mask_file,
    mask_bbox,
    mask_is_empty,
)

__all__ = [
    "MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "blur_mask",
    "composite",
    "crop_box",
    "fit_within",
    "load_image",
    "load_mask",
    "load_mask_file",
    "mask_bbox",
    "mask_is_empty",
    "match_colors",
    "normalize_image",
    "open_image",
    "resize_to",
]
