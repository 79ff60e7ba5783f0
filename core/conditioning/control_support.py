"""Which families take ControlNet control layers, and the one-line refusal for the others
(why, where diffusers itself has no pipeline this app could run, and which families do)."""

from __future__ import annotations

from core.errors import ModelError
from core.models.families import FAMILIES, Family

_NO_STRENGTH = "take no strength: they cannot run an img2img or inpaint pass"
# Why a family without ControlNet has none, as of diffusers 0.42.
NO_CONTROLNET_REASONS = {
    "zimage": f"diffusers' Z-Image ControlNet pipelines (text-to-image, inpaint) {_NO_STRENGTH}",
    "qwen-image": (
        f"diffusers' Qwen-Image ControlNet pipelines (text-to-image, inpaint) {_NO_STRENGTH}"
    ),
    "chroma": "diffusers has no ControlNet pipeline for Chroma",
    "qwen-image-edit": "diffusers has no ControlNet pipeline for Qwen-Image-Edit",
    "qwen-image-edit-plus": "diffusers has no ControlNet pipeline for Qwen-Image-Edit-Plus",
    "flux2-klein": "diffusers has no ControlNet pipeline for FLUX.2",
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
