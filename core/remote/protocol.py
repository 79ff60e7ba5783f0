"""A pass on the wire, one definition for the worker and its clients.

A submitted pass is a multipart form: a ``params`` part (JSON: the model id and the same
parameters as ``generate``) and one PNG part per picture: ``image``, ``mask``, ``strength_map``,
``control.<i>`` (a control layer's own picture), ``reference.<i>``, ``region.<i>``,
``edit_reference.<i>`` (an edit model's extra pictures, one ``{}`` each in
``params.edit_references``). Pictures travel
as lossless PNG, so the worker sees exactly the client's pixels. Events are JSON objects with a
``type``; a step preview is a ``step`` event followed by one binary frame (PNG). See docs/API.md.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.conditioning.regions import Region
from core.conditioning.specs import ControlLayer, LoraSpec, Reference
from core.errors import InvalidRequest, UserError
from core.events import ModelLoading, PassEvent, PassStarted, StepPreview
from core.imaging import MAX_PIXELS
from core.requests import PassRequest

API_PREFIX = "/v1"
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # one submitted pass, every picture included
PARAMS_PART = "params"
SCALARS = (
    "prompt",
    "negative_prompt",
    "strength",
    "steps",
    "cfg",
    "seed",
    "scheduler",
    "width",
    "height",
    "mask_blur",
    "inpaint_area",
    "padding",
    "color_match",
    "soft_inpaint",
    "work_size",
)
_CONTROL_FIELDS = ("model", "kind", "strength", "start", "end", "low_threshold", "high_threshold")


class ProtocolError(UserError):
    """A request the worker refuses (HTTP 400 with this one-line message)."""


@dataclass(frozen=True)
class Submission:
    """A pass as the worker receives it: the model id it must offer, and the request."""

    model: str
    request: PassRequest


def png_bytes(image: Image.Image) -> bytes:
    """``image`` as a lossless PNG (no metadata)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def read_png(
    data: bytes, name: str, max_pixels: int = MAX_PIXELS, formats: tuple[str, ...] = ("PNG",)
) -> Image.Image:
    """A picture part, its size checked from the header before decoding (ProtocolError).
    ``formats``: the Pillow formats accepted (A1111 clients also send JPEG and WebP)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(formats))
            if image.width * image.height > max_pixels:
                raise ProtocolError(
                    f"{name}: {image.width}×{image.height} is over the {max_pixels} pixel limit"
                )
            image.load()
    except ProtocolError:
        raise
    except Exception as exc:  # not a PNG, truncated, a decompression bomb…
        kinds = " or ".join(formats)
        raise ProtocolError(f"{name}: not a readable {kinds} ({type(exc).__name__})") from None
    return image


def encode_submission(model: str, request: PassRequest) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The ``params`` JSON and the picture parts of a pass (the client's half)."""
    params: dict[str, Any] = {"model": model, **{key: getattr(request, key) for key in SCALARS}}
    files = {"image": png_bytes(request.image)}
    for key in ("mask", "strength_map"):
        picture = getattr(request, key)
        if picture is not None:
            files[key] = png_bytes(picture)
    params["loras"] = [{"name": lora.path, "weight": lora.weight} for lora in request.loras]
    params["controls"] = []
    for i, layer in enumerate(request.controls):
        fields = {key: getattr(layer, key) for key in _CONTROL_FIELDS}
        params["controls"].append({**fields, "invert": layer.invert, "enabled": layer.enabled})
        if layer.image is not None:
            files[f"control.{i}"] = png_bytes(layer.image)
    params["references"] = [
        {"model": ref.model, "scale": ref.scale, "mode": ref.mode} for ref in request.references
    ]
    for i, ref in enumerate(request.references):
        files[f"reference.{i}"] = png_bytes(ref.image)
    params["regions"] = [{"prompt": r.prompt, "negative": r.negative} for r in request.regions]
    params["edit_references"] = [{} for _ in request.edit_references]
    for i, picture in enumerate(request.edit_references):
        files[f"edit_reference.{i}"] = png_bytes(picture)
    for i, region in enumerate(request.regions):
        files[f"region.{i}"] = png_bytes(region.mask)
    params["extra"] = request.extra
    return params, files


def decode_submission(params: Mapping[str, Any], files: Mapping[str, bytes]) -> Submission:
    """The worker's half: a validated request from the parts (ProtocolError for anything wrong).

    Model names (the pass's, its control layers' and references') and LoRA names are returned
    as sent; the worker maps them to what it offers and refuses the rest.
    """
    try:
        model = str(params["model"])
        if "image" not in files:
            raise ProtocolError("the pass has no image part")
        pictures = {name: read_png(data, name) for name, data in files.items()}
        values = {key: params[key] for key in SCALARS if key in params}
        controls = tuple(
            ControlLayer(
                **{key: layer[key] for key in _CONTROL_FIELDS if key in layer},
                invert=bool(layer.get("invert", False)),
                enabled=bool(layer.get("enabled", True)),
                image=pictures.get(f"control.{i}"),
            )
            for i, layer in enumerate(params.get("controls", []))
        )
        references = tuple(
            Reference(str(ref["model"]), _picture(pictures, f"reference.{i}"), **_opts(ref))
            for i, ref in enumerate(params.get("references", []))
        )
        regions = tuple(
            Region(_picture(pictures, f"region.{i}"), str(r["prompt"]), str(r.get("negative", "")))
            for i, r in enumerate(params.get("regions", []))
        )
        listed = params.get("edit_references", [])
        if not isinstance(listed, list):
            raise ProtocolError("edit_references must be a JSON list")
        edit_references = tuple(
            _picture(pictures, f"edit_reference.{i}").convert("RGB") for i in range(len(listed))
        )
        loras = tuple(
            LoraSpec(str(lora["name"]), float(lora.get("weight", 1.0)))
            for lora in params.get("loras", [])
        )
        extra = params.get("extra", {})
        if not isinstance(extra, dict):
            raise ProtocolError("extra must be a JSON object")
        request = PassRequest(
            image=pictures["image"].convert("RGB"),
            mask=pictures.get("mask"),
            strength_map=pictures.get("strength_map"),
            loras=loras,
            controls=controls,
            references=references,
            regions=regions,
            edit_references=edit_references,
            extra=extra,
            **values,
        )
        return Submission(model, request.validate())
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed pass parameters ({type(exc).__name__}: {exc})") from None
    except InvalidRequest as exc:
        raise ProtocolError(str(exc)) from None


def _picture(pictures: Mapping[str, Image.Image], name: str) -> Image.Image:
    if name not in pictures:
        raise ProtocolError(f"the pass has no {name} part")
    return pictures[name]


def _opts(ref: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ref[key] for key in ("scale", "mode") if key in ref}


def event_json(event: PassEvent) -> dict[str, Any]:
    """A pass event as its JSON message (a step's preview goes in the binary frame after it)."""
    if isinstance(event, ModelLoading):
        fields = {"reference": event.reference, "message": event.message}
        return {"type": "loading", **fields, "fraction": event.fraction}
    if isinstance(event, PassStarted):
        return {
            "type": "started",
            "effective_steps": event.effective_steps,
            "total_steps": event.total_steps,
            "width": event.width,
            "height": event.height,
            "seed": event.seed,
        }
    return {
        "type": "step",
        "step": event.step,
        "total": event.total,
        "elapsed": event.elapsed,
        "preview": event.image is not None,
    }


def event_from_json(message: Mapping[str, Any], preview: bytes | None = None) -> PassEvent | None:
    """The pass event a JSON message stands for (None for queue and end messages)."""
    kind = message.get("type")
    if kind == "loading":
        return ModelLoading(message["reference"], message["message"], message.get("fraction"))
    if kind == "started":
        fields = ("effective_steps", "total_steps", "width", "height", "seed")
        return PassStarted(*(int(message[key]) for key in fields))
    if kind == "step":
        image = np.asarray(Image.open(io.BytesIO(preview)).convert("RGB")) if preview else None
        return StepPreview(int(message["step"]), int(message["total"]), message["elapsed"], image)
    return None


def preview_png(image: np.ndarray) -> bytes:
    """A step preview (H×W×3 uint8) as the binary frame that follows its ``step`` message."""
    return png_bytes(Image.fromarray(image, "RGB"))
