"""Regional prompts, as a request carries them: a mask with its own prompt (and negative).

This module is part of the contract (``PassRequest.regions``) and imports nothing heavier than
PIL; the engine's attention processor lives in :mod:`core.conditioning.regional`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from core.errors import InvalidRequest

MAX_REGIONS = 8


@dataclass(frozen=True)
class Region:
    """One region: ``mask`` (any mode and size; white = the region, soft values blend) with the
    ``prompt`` its pixels follow instead of the base prompt. ``negative`` "" means the base
    negative prompt."""

    mask: Image.Image
    prompt: str
    negative: str = ""


def validate_regions(regions: tuple[Region, ...]) -> None:
    """Raise :class:`InvalidRequest` (one line) for too many regions or a region without a mask
    image or prompt text."""
    if len(regions) > MAX_REGIONS:
        raise InvalidRequest(f"at most {MAX_REGIONS} regions, got {len(regions)}")
    for number, region in enumerate(regions, 1):
        if not isinstance(region, Region):
            raise InvalidRequest(f"region {number} is not a Region")
        if not isinstance(region.mask, Image.Image):
            raise InvalidRequest(f"region {number} has no mask image")
        if not isinstance(region.prompt, str) or not isinstance(region.negative, str):
            raise InvalidRequest(f"region {number}: the prompt and negative must be text")
