"""Regional denoise by differential diffusion: a per-pixel strength map.

The pass runs at the map's highest strength. After every step, latents whose own strength has not
yet been reached are reset to the source re-noised to the next step's noise level
(:class:`core.engine.latent_hold.LatentHold`, as diffusers' inpaint pipeline does outside its
mask), so each region follows the denoiser for exactly ``int(steps × its strength)``
steps: a region at 0.8 changes like a global 0.8 pass, and pixels painted 0 come out
byte-identical to the input. A mask limits the map (strength 0 outside it); the result is blended
into the original through the map's own soft edge, not a binary cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.engine.family_call import accepts
from core.engine.latent_hold import LatentHold
from core.imaging import resize_to

if TYPE_CHECKING:
    from core.engine.pass_run import PassRun

SOFT_EDGE = 26  # map values below this (strength < 0.1) blend generated and original linearly


def masked_strength_map(strength_map: Image.Image, mask: Image.Image | None) -> Image.Image:
    """The map limited by the mask: strength 0 wherever the mask is black (both mode "L")."""
    if mask is None:
        return strength_map
    arr = np.asarray(strength_map, np.uint16) * np.asarray(mask, np.uint16) // 255
    return Image.fromarray(arr.astype(np.uint8), "L")


def blend_alpha(strength_map: Image.Image) -> Image.Image:
    """How much of the generated picture each pixel takes: 0 where the map is 0, ramping to all of
    it at :data:`SOFT_EDGE`, so a soft-painted edge fades in instead of being cut."""
    arr = np.asarray(strength_map, np.uint16) * 255 // SOFT_EDGE
    return Image.fromarray(np.minimum(arr, 255).astype(np.uint8), "L")


def run_differential(run: PassRun, source: Image.Image, strength_map: Image.Image) -> Image.Image:
    """Run a pass of ``run`` with an already masked map; returns the blended image."""
    # 1. Denoise at the map's highest strength, at the work size, with the regional filter.
    request, model = run.request, run.model
    top = float(np.asarray(strength_map).max()) / 255.0
    work = resize_to(source, run.work_size)
    work_map = strength_map.resize(run.work_size, Image.Resampling.BILINEAR)
    # Models whose img2img has no strength (FLUX.1 Kontext) run their inpaint pipeline.
    by_inpaint = model.is_inpaint_model or not accepts(model.img2img_pipe, "strength")
    pipe = model.inpaint_pipe if by_inpaint else model.img2img_pipe
    regional = LatentHold(pipe, work, work_map, request.steps, run.steps_to_run, run.generator())
    kwargs: dict[str, Any] = {"image": work, "strength": top}
    if by_inpaint:
        kwargs.update(
            mask_image=work_map.point(lambda v: 255 if v else 0),
            width=work.width,
            height=work.height,
        )
    generated = resize_to(run.call(pipe, latent_filter=regional, **kwargs), source.size)
    # 2. Keep the input's bytes wherever the strength is 0; fade in along the map's soft edge
    #    (colour-matched to the picture around it when the request asks for it).
    return run.paste_back(source, generated, blend_alpha(strength_map))
