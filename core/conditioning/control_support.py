"""Which families take ControlNet control layers and which ControlNet classes fit each, and the
one-line refusals: for a family without them (why, where diffusers itself has no pipeline this
app could run, and which families do) and for a ControlNet made for another family."""

from __future__ import annotations

from typing import Any

from core.errors import ModelError
from core.models.families import FAMILIES, Family

# Why a family without ControlNet has none, as of diffusers 0.42.
NO_CONTROLNET_REASONS = {
    "chroma": "diffusers has no ControlNet pipeline for Chroma",
    "qwen-image-edit": "diffusers has no ControlNet pipeline for Qwen-Image-Edit",
    "qwen-image-edit-plus": "diffusers has no ControlNet pipeline for Qwen-Image-Edit-Plus",
    "flux2-klein": "diffusers has no ControlNet pipeline for FLUX.2",
}

# The diffusers ControlNet classes each family's ControlNet pipelines take.
_SD_CONTROLNETS = ("ControlNetModel", "ControlNetUnionModel")
CONTROLNET_CLASSES = {
    "sd1": _SD_CONTROLNETS,
    "sdxl": _SD_CONTROLNETS,
    "sd3": ("SD3ControlNetModel",),
    "flux": ("FluxControlNetModel",),
    "qwen-image": ("QwenImageControlNetModel",),
    "zimage": ("ZImageControlNetModel",),
}


def controlnet_refusal(info: Family) -> ModelError:
    """The one-line error for control layers on a family without ControlNet: the reason where
    known, and the families that have it."""
    reason = NO_CONTROLNET_REASONS.get(info.key)
    having = ", ".join(f.label for f in FAMILIES.values() if f.controlnet)
    because = f" ({reason})" if reason else ""
    return ModelError(
        f"ControlNet control layers are not available for {info.label} models{because}; "
        f"ControlNet works on {having}"
    )


def check_controlnet_fits(info: Family, reference: str, controlnet: Any) -> None:
    """ModelError (one line) when the loaded ``controlnet`` (named ``reference``) is not one
    ``info``'s ControlNet pipelines take: made for another family, a union FLUX.1 one, or an
    inpainting ControlNet
    (a Qwen-Image one takes the mask as extra channels, which only
    ``QwenImageControlNetInpaintPipeline`` gives it)."""
    name = type(controlnet).__name__
    fitting = CONTROLNET_CLASSES.get(info.key, ())
    if name not in fitting:
        raise ModelError(
            f"{reference} is a {name}, not a ControlNet for {info.label} models "
            f"({' or '.join(fitting)})"
        )
    if name == "FluxControlNetModel" and getattr(controlnet.config, "num_mode", None) is not None:
        raise ModelError(
            f"{reference} is a union FLUX.1 ControlNet (it is told each image's control mode, "
            "which this app does not give it yet); use a single-type FLUX.1 ControlNet"
        )
    config = controlnet.config
    extra = getattr(config, "extra_condition_channels", 0) or 0  # Qwen-Image's name
    if int(extra or getattr(config, "extra_conditioning_channels", 0) or 0):  # SD3's
        raise ModelError(
            f"{reference} is an inpainting ControlNet (it takes the mask as extra channels, "
            "which no img2img pass gives it); use one that takes a control image alone"
        )
