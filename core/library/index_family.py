"""The family of a diffusers folder from its ``model_index.json`` and its denoiser's config: the
one rule the loader (``core.models.loading``) and the library's scan (``core.library.scan``) share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ModelError

QWEN_IMAGE_PIPELINES = ("QwenImagePipeline", "QwenImageImg2ImgPipeline", "QwenImageInpaintPipeline")
# The Edit-Inpaint pipeline runs Qwen-Image-Edit's own weights: such a folder is that model.
QWEN_IMAGE_EDIT_PIPELINES = ("QwenImageEditPipeline", "QwenImageEditInpaintPipeline")
FLUX_FILL_IN_CHANNELS = 384  # packed latents + masked-image latents + the 8×8 packed mask


def family_from_index(index: dict[str, Any], denoiser_config: dict[str, Any]) -> tuple[str, bool]:
    """(family key, is_inpaint) of a diffusers folder from its ``model_index.json`` and its
    UNet's or transformer's ``config.json``; raises ModelError for a pipeline it cannot run.

    SD 2.x is told from SD 1.x by its text width (1024 against 768) or, for any width, by the
    linear attention projections only SD 2.x UNets use; 9 input channels mark an inpainting
    UNet, 384 a FLUX Fill transformer. Z-Image, Qwen-Image and Chroma (a FLUX.1 derivative
    with its own transformer class) are named by their pipeline class.
    """
    name = str(index.get("_class_name", ""))
    in_channels = int(denoiser_config.get("in_channels", 4))
    if name.startswith("ZImage"):
        return "zimage", False
    if name.startswith("Chroma"):
        return "chroma", False
    if name in QWEN_IMAGE_PIPELINES:
        return "qwen-image", False
    if name in QWEN_IMAGE_EDIT_PIPELINES:
        return "qwen-image-edit", False
    if name == "QwenImageEditPlusPipeline":
        return "qwen-image-edit-plus", False
    if name.startswith("QwenImage"):  # Layered, ControlNet folders
        raise ModelError(f"{name} models are not supported yet")
    if name == "Flux2KleinPipeline":
        return "flux2-klein", False
    if name.startswith("Flux2"):
        raise ModelError(f"FLUX.2 models ({name}) are not supported yet")
    if name.startswith("FluxKontext"):
        return "flux-kontext", False
    if name.startswith("FluxFill") or (
        name.startswith("Flux") and in_channels == FLUX_FILL_IN_CHANNELS
    ):
        return "flux-fill", True
    if name.startswith("Flux"):
        return "flux", False
    if name.startswith("StableDiffusion3"):
        return "sd3", False
    is_inpaint = in_channels == 9
    if name.startswith("StableDiffusionXL"):
        return "sdxl", is_inpaint
    if name.startswith(("StableDiffusion", "AltDiffusion")) or "unet" in index:
        cross = denoiser_config.get("cross_attention_dim", 768)
        wide = isinstance(cross, int) and cross >= 1024
        sd2 = wide or bool(denoiser_config.get("use_linear_projection", False))
        return ("sd2" if sd2 else "sd1"), is_inpaint
    raise ModelError(f"unsupported pipeline '{name or 'unknown'}' in model_index.json")


def denoiser_config(folder: Path) -> dict[str, Any]:
    """The UNet's or transformer's ``config.json`` of a diffusers folder ({} when it has neither);
    raises OSError/ValueError for an unreadable one."""
    for component in ("unet", "transformer"):
        config = folder / component / "config.json"
        if config.is_file():
            data = json.loads(config.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
    return {}
