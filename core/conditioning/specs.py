"""LoRAs, ControlNet control layers and IP-Adapter references, as a request carries them.

This module is part of the contract (``PassRequest.loras``, ``.controls``, ``.references``) and
imports nothing heavier than PIL; loading and applying them lives in ``core.conditioning.lora``,
``.control`` and ``.ip_adapter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from core.errors import InvalidRequest

MAX_LORAS = 8
MAX_CONTROLS = 4
MAX_REFERENCES = 4
# Control images made locally from a picture, and "image": the control image is used as it is
# (a depth, pose or normal map made elsewhere). The model-based ones need preprocessor weights.
LOCAL_CONTROL_KINDS = ("canny", "scribble", "lineart", "image")
MODEL_CONTROL_KINDS = ("depth", "softedge", "pose")
CONTROL_KINDS = LOCAL_CONTROL_KINDS + MODEL_CONTROL_KINDS
REFERENCE_MODES = ("standard", "style", "composition")


@dataclass(frozen=True)
class LoraSpec:
    """One LoRA: a ``.safetensors`` file (or a name resolved against the scanned LoRA folders)
    applied with ``weight`` (0 = off; negative weights are allowed, as in A1111)."""

    path: str
    weight: float = 1.0


@dataclass(frozen=True)
class ControlLayer:
    """One ControlNet layer. ``image`` None: the control image is made from the pass's own input
    picture; else it is made from ``image`` (or used as it is for kind "image").
    ``start``/``end``: the fraction of the denoise during which it acts."""

    model: str  # ControlNet: diffusers folder, .safetensors file or hub id
    kind: str = "canny"
    image: Image.Image | None = None
    strength: float = 1.0
    start: float = 0.0
    end: float = 1.0
    low_threshold: int = 100  # canny
    high_threshold: int = 200  # canny
    invert: bool = False  # scribble / line art: dark lines on white paper
    enabled: bool = True


@dataclass(frozen=True)
class Reference:
    """One IP-Adapter reference picture with its adapter and scale."""

    model: str  # IP-Adapter: .safetensors file, a folder holding one, or a hub id
    image: Image.Image
    scale: float = 0.6
    mode: str = "standard"  # standard | style | composition (where the adapter supports them)


def validate_conditioning(
    loras: tuple[LoraSpec, ...],
    controls: tuple[ControlLayer, ...],
    references: tuple[Reference, ...],
) -> None:
    """Raise :class:`InvalidRequest` (one line) for a value out of range."""
    if len(loras) > MAX_LORAS:
        raise InvalidRequest(f"at most {MAX_LORAS} LoRAs, got {len(loras)}")
    for lora in loras:
        if not lora.path:
            raise InvalidRequest("a LoRA needs a file or a name")
        if not -4.0 <= lora.weight <= 4.0:
            raise InvalidRequest(f"LoRA weight must be between -4 and 4, got {lora.weight}")
    if len(controls) > MAX_CONTROLS:
        raise InvalidRequest(f"at most {MAX_CONTROLS} control layers, got {len(controls)}")
    for n, layer in enumerate(controls, 1):
        if layer.kind not in CONTROL_KINDS:
            kinds = ", ".join(CONTROL_KINDS)
            raise InvalidRequest(f"control layer {n}: unknown type '{layer.kind}' ({kinds})")
        if not layer.model:
            raise InvalidRequest(f"control layer {n} has no ControlNet model")
        if not 0.0 <= layer.strength <= 2.0:
            raise InvalidRequest(f"control layer {n}: strength must be 0–2, got {layer.strength}")
        if not 0.0 <= layer.start < layer.end <= 1.0:
            raise InvalidRequest(
                f"control layer {n}: range must satisfy 0 ≤ start < end ≤ 1, "
                f"got {layer.start}–{layer.end}"
            )
        if layer.kind == "image" and layer.image is None:
            raise InvalidRequest(f"control layer {n}: type 'image' needs a control image")
    if len(references) > MAX_REFERENCES:
        raise InvalidRequest(f"at most {MAX_REFERENCES} references, got {len(references)}")
    for n, ref in enumerate(references, 1):
        if not isinstance(ref.image, Image.Image):
            raise InvalidRequest(f"reference {n} has no image")
        if not ref.model:
            raise InvalidRequest(f"reference {n} has no IP-Adapter model")
        if not 0.0 <= ref.scale <= 2.0:
            raise InvalidRequest(f"reference {n}: scale must be 0–2, got {ref.scale}")
        if ref.mode not in REFERENCE_MODES:
            raise InvalidRequest(f"reference {n}: unknown mode '{ref.mode}'")
