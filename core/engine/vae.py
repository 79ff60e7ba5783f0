"""VAE work the engine does itself: encoding sources in a safe precision, rescuing NaN decodes.

fp16 SD/SDXL VAEs overflow on some pictures (``force_upcast`` in their config says so): the
encode runs in fp32 for them, and a decode that came back all black (NaNs cast to 0) is redone in
fp32 from the final latents.

Model-space latents are what the pipelines denoise: ``(latents − shift) × scaling`` for the SD
and FLUX VAEs; for Qwen-Image's (Wan 2.1's) video VAE, per-channel ``(latents − mean) / std`` of
a one-frame (B, C, 1, h, w) latent, which is shown here as (B, C, h, w).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image


def needs_upcast(vae: Any) -> bool:
    """True for an fp16 VAE whose config asks to run in fp32."""
    import torch

    return vae.dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))


@contextmanager
def fp32_vae(vae: Any, always: bool = False) -> Any:
    """Run the VAE in fp32 within the block when it needs it (or ``always``), then restore it."""
    import torch

    original = vae.dtype
    upcast = (always or needs_upcast(vae)) and original != torch.float32
    if upcast:
        vae.to(torch.float32)
    try:
        yield vae
    finally:
        if upcast:
            vae.to(original)


def _shift(vae: Any) -> float:
    """The VAE's latent shift (SD 3.5 and FLUX centre their latents; SD 1.x/2.x/XL do not)."""
    return float(getattr(vae.config, "shift_factor", None) or 0.0)


def _per_channel(vae: Any) -> bool:
    """A video VAE normalised per channel (Qwen-Image's), whose latents have a frame axis."""
    return getattr(vae.config, "latents_mean", None) is not None and hasattr(vae.config, "z_dim")


def _mean_std(vae: Any, like: Any) -> tuple[Any, Any]:
    import torch

    shape = (1, int(vae.config.z_dim), 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape).to(like.device, like.dtype)
    std = torch.tensor(vae.config.latents_std).view(shape).to(like.device, like.dtype)
    return mean, std


def encode(pipe: Any, image: Image.Image) -> Any:
    """Model-space latents (mode of the posterior, shifted and scaled as the pipelines do) of
    ``image``, (B, C, h, w) in the VAE's precision."""
    import torch

    with fp32_vae(pipe.vae) as vae, torch.no_grad():
        pixels = pipe.image_processor.preprocess(image).to(vae.device, vae.dtype)
        if _per_channel(vae):
            posterior = vae.encode(pixels.unsqueeze(2)).latent_dist.mode()[:, :, 0]
            mean, std = _mean_std(vae, posterior)
            latents = (posterior - mean) / std
        else:
            posterior = vae.encode(pixels).latent_dist.mode()
            latents = (posterior - _shift(vae)) * vae.config.scaling_factor
    return latents.to(pipe.vae.dtype)


def is_blank(image: Image.Image) -> bool:
    """An all-black decode: what NaN latents or an overflowing fp16 VAE produce."""
    return not np.asarray(image).any()


def decode_fp32(pipe: Any, latents: Any) -> Image.Image:
    """Decode model-space (B, C, h, w) ``latents`` with the VAE in fp32 (the rescue path for a
    blank fp16 decode)."""
    import torch

    with fp32_vae(pipe.vae, always=True) as vae, torch.no_grad():
        latents = latents.to(vae.device, torch.float32)
        if _per_channel(vae):
            mean, std = _mean_std(vae, latents)
            pixels = vae.decode((latents * std + mean).unsqueeze(2), return_dict=False)[0][:, :, 0]
        else:
            scaled = latents / vae.config.scaling_factor + _shift(vae)
            pixels = vae.decode(scaled, return_dict=False)[0]
    image = pipe.image_processor.postprocess(pixels, output_type="pil")[0]
    return image.convert("RGB")
