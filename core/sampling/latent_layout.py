"""How latents look inside a pipeline's denoising loop, and the plain (B, C, h, w) view of them.

SD 1.x/2.x/XL and SD 3.5 hand ``callback_on_step_end`` latents as (B, C, h, w). FLUX packs each
2×2 patch of its 16-channel latents into one token: (B, h/2 · w/2, 64) (diffusers'
``FluxPipeline._pack_latents`` / ``_unpack_latents``). Previews, the differential filter and the
fp32 re-decode work on the plain view; :class:`LatentLayout` converts both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LatentLayout:
    """Plain (``packed`` False) or FLUX-packed latents of a ``latent_hw`` (h, w) latent grid."""

    packed: bool = False
    latent_hw: tuple[int, int] = (0, 0)

    def unpack(self, latents: Any) -> Any:
        """(B, C, h, w) latents from what the pipeline holds (plain latents pass through)."""
        if not self.packed or latents.ndim == 4:
            return latents
        h, w = self.latent_hw
        batch, _, packed_channels = latents.shape
        channels = packed_channels // 4
        grid = latents.view(batch, h // 2, w // 2, channels, 2, 2)
        return grid.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, h, w)

    def pack(self, latents: Any) -> Any:
        """The pipeline's own form of (B, C, h, w) ``latents`` (the inverse of :meth:`unpack`)."""
        if not self.packed:
            return latents
        batch, channels, h, w = latents.shape
        grid = latents.view(batch, channels, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
        return grid.reshape(batch, (h // 2) * (w // 2), channels * 4)


def layout_for(packed: bool, vae_scale_factor: int, image_size: tuple[int, int]) -> LatentLayout:
    """The layout of a pass at ``image_size`` (w, h) px: FLUX's latent grid is
    ``2 × (side // (scale × 2))`` per side, as its pipelines compute it."""
    if not packed:
        return LatentLayout()
    width, height = image_size
    step = vae_scale_factor * 2
    return LatentLayout(True, (2 * (height // step), 2 * (width // step)))
