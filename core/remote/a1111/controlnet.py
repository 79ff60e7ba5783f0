"""sd-webui-controlnet units (``alwayson_scripts.controlnet.args``) as control layers.

A unit's ``module`` (the extension's preprocessor) picks the layer's kind; its ``model`` is a
ControlNet the worker offers (by name; A1111's `` [hash]`` suffix is dropped); ``image`` is the
control picture (none: the pass's own picture, as the extension does in img2img). Disabled units
are left out.
"""

from __future__ import annotations

import re
from typing import Any

from core.conditioning.specs import ControlLayer
from core.remote.a1111.pictures import decode_picture
from core.remote.a1111.schema import ControlNetUnit, invalid, validated

# Module name prefixes → control layer kinds ("none": the picture is the control map itself).
MODULE_KINDS = (
    ("none", "image"),
    ("canny", "canny"),
    ("scribble", "scribble"),
    ("lineart", "lineart"),
    ("depth", "depth"),
    ("softedge", "softedge"),
    ("hed", "softedge"),
    ("pidinet", "softedge"),
    ("openpose", "pose"),
    ("dw_openpose", "pose"),
)
MODULES = ("none", "canny", "scribble", "lineart", "depth", "softedge", "openpose")
_HASH_SUFFIX = re.compile(r"\s*\[[0-9A-Fa-f]+\]$")


def control_layers(scripts: dict[str, Any]) -> tuple[ControlLayer, ...]:
    """The control layers of a request's ``alwayson_scripts`` (A1111Invalid for a bad unit or
    a script this worker does not have)."""
    layers: list[ControlLayer] = []
    for name, script in scripts.items():
        if name.lower() != "controlnet":
            raise invalid(f"always on script {name} not found", "alwayson_scripts", name)
        args = script.get("args", []) if isinstance(script, dict) else None
        if not isinstance(args, list):
            raise invalid("args must be a list of units", "alwayson_scripts", name, "args")
        for index, raw in enumerate(args):
            loc = ("alwayson_scripts", name, "args", index)
            unit = validated(ControlNetUnit, raw, *loc)
            if unit.enabled:
                layers.append(_layer(unit, loc))
    return tuple(layers)


def _layer(unit: ControlNetUnit, loc: tuple[str | int, ...]) -> ControlLayer:
    kind = _kind(unit.module)
    if kind is None:
        supported = ", ".join(MODULES)
        raise invalid(f"ControlNet module '{unit.module}' is not supported ({supported})", *loc)
    model = _HASH_SUFFIX.sub("", unit.model.strip())
    if not model or model.lower() == "none":
        raise invalid("a ControlNet unit needs a model (see /controlnet/model_list)", *loc)
    picture = unit.image.get("image") if isinstance(unit.image, dict) else unit.image
    picture = picture or unit.input_image
    image = decode_picture(picture, *loc, "image").convert("RGB") if picture else None
    low, high = (int(t) for t in (unit.threshold_a, unit.threshold_b))
    return ControlLayer(
        model=model,
        kind=kind,
        image=image,
        strength=unit.weight,
        start=unit.guidance_start,
        end=unit.guidance_end,
        low_threshold=low if kind == "canny" and low >= 0 else 100,
        high_threshold=high if kind == "canny" and high >= 0 else 200,
    )


def _kind(module: str) -> str | None:
    name = module.strip().lower()
    return next((kind for prefix, kind in MODULE_KINDS if name.startswith(prefix)), None)
