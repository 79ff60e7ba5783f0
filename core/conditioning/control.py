"""ControlNet control layers: control images, the ControlNet pipeline variant, its arguments.

A pass with enabled control layers runs on the ControlNet variant of the pipeline it would have
used (img2img or inpaint, SD 1.x, SDXL or FLUX.1; the union variants for union ControlNets),
built on the same modules so the base weights are shared, and kept with the loaded ControlNets
between passes (``core.conditioning.control_models``). Each layer's control image is made at
the size the model works at, from the layer's own picture (resized to the request's picture,
then cut like it for an only-masked inpaint) or from the pass's own input; its strength is the
ControlNet's conditioning scale and its range the part of the denoise it acts in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from core.conditioning.context import PassContext
from core.conditioning.control_models import cache_for, is_union
from core.conditioning.control_support import check_controlnet_fits, controlnet_refusal
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.errors import ModelError
from core.events import ModelLoading
from core.hashing import pixel_hash
from core.models.families import Family

# Union ControlNets (xinsir/controlnet-union-sdxl-1.0 "promax" order): control type → mode.
UNION_MODES = {"pose": 0, "depth": 1, "softedge": 2, "scribble": 2, "canny": 3, "lineart": 3}

_PIPELINES = {  # (family, inpaint, union) → diffusers pipeline class
    ("sd1", False, False): "StableDiffusionControlNetImg2ImgPipeline",
    ("sd1", True, False): "StableDiffusionControlNetInpaintPipeline",
    ("sdxl", False, False): "StableDiffusionXLControlNetImg2ImgPipeline",
    ("sdxl", True, False): "StableDiffusionXLControlNetInpaintPipeline",
    ("sdxl", False, True): "StableDiffusionXLControlNetUnionImg2ImgPipeline",
    ("sdxl", True, True): "StableDiffusionXLControlNetUnionInpaintPipeline",
    ("flux", False, False): "FluxControlNetImg2ImgPipeline",
    ("flux", True, False): "FluxControlNetInpaintPipeline",
    # Text-to-image only: the engine starts it at the strength (core.engine.strength_start),
    # and holds the latents outside the mask of a masked pass.
    ("qwen-image", False, False): "QwenImageControlNetPipeline",
    ("qwen-image", True, False): "QwenImageControlNetPipeline",
    ("zimage", False, False): "ZImageControlNetPipeline",
    ("zimage", True, False): "ZImageControlNetPipeline",
    ("sd3", False, False): "StableDiffusion3ControlNetPipeline",
    ("sd3", True, False): "StableDiffusion3ControlNetPipeline",
}
# The ControlNet pipelines without a strength that the engine starts where img2img would
# (Qwen-Image's, Z-Image's, SD 3.5's; FLUX.1's take the strength themselves).
STARTED_AT_STRENGTH = frozenset(
    {
        "QwenImageControlNetPipeline",
        "ZImageControlNetPipeline",
        "StableDiffusion3ControlNetPipeline",
    }
)
# Families whose ControlNet pipeline takes one control image and acts over the whole denoise
# (no control_guidance_start/end).
_ONE_WHOLE_LAYER = frozenset({"zimage"})
# Pipelines that take several layers only as one ControlNet given several control images (its
# multi wrapper), and their families.
_ONE_CONTROLNET = {"QwenImageControlNetPipeline": "QwenImageMultiControlNetModel"}
_ONE_CONTROLNET_FAMILIES = frozenset({"qwen-image"})
# Pipelines that pair several control images with a list of control modes (None: not a union
# ControlNet) and run none without it.
_MODES_PER_IMAGE = frozenset({"FluxControlNetImg2ImgPipeline", "FluxControlNetInpaintPipeline"})


def control_call(
    context: PassContext, pipe: Any, kwargs: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """The pipeline to call (a ControlNet variant when the pass has control layers) and the
    extra keyword arguments for it; each layer is added to the context's
    ``record_extra["controls"]`` and its control image to its ``control_images``."""
    layers = [layer for layer in context.request.controls if layer.enabled]
    if not layers:
        return pipe, {}
    model = context.model
    info = model.family_info
    if not info.controlnet:
        raise controlnet_refusal(info)
    _check_layers(info, layers)
    # 1. The ControlNets, loaded once per base model.
    cache = cache_for(model)
    for reference in dict.fromkeys(layer.model for layer in layers):
        if reference not in cache.models:
            context.emit(ModelLoading(reference, f"Loading ControlNet {Path(reference).name}…"))
    nets = [cache.controlnet(layer.model, model.device, model.dtype) for layer in layers]
    for layer, net in zip(layers, nets, strict=True):
        check_controlnet_fits(info, layer.model, net)
    union = _check_union(nets, layers)
    _check_flux_kinds(nets)
    # 2. The ControlNet variant of the pipeline, sharing the base weights.
    inpaint = "mask_image" in kwargs
    name = _PIPELINES.get((model.family, inpaint, union))
    if name is None:
        raise ModelError(f"union ControlNets are not available for {info.label} models")
    key = (name, tuple(layer.model for layer in layers))
    if key not in cache.pipelines:
        import diffusers

        controlnet = _controlnet_argument(name, nets)
        variant = sharing_pipeline(getattr(diffusers, name), pipe, controlnet=controlnet)
        variant.set_progress_bar_config(disable=True)
        kept = {k: v for k, v in cache.pipelines.items() if k[0] != name}
        cache.pipelines = {**kept, key: variant}  # one per pipeline class
    variant = cache.pipelines[key]
    # 3. The control images at the work size, and the call's arguments.
    work = kwargs["image"]
    images = [layer_image(context, layer, work) for layer in layers]
    context.control_images = tuple(images)
    context.record_extra["controls"] = [
        control_record(layer, image) for layer, image in zip(layers, images, strict=True)
    ]
    arguments = call_arguments(layers, images, union)
    if name in _MODES_PER_IMAGE and len(layers) > 1:  # no mode: each net's own type
        arguments["control_mode"] = [None] * len(layers)
    return variant, arguments


def starts_at_strength(pipe: Any) -> bool:
    """Whether ``pipe`` is a ControlNet pipeline without a strength that the engine starts at
    the pass's strength (``core.engine.strength_start``)."""
    return type(pipe).__name__ in STARTED_AT_STRENGTH


def _controlnet_argument(name: str, nets: list[Any]) -> Any:
    """The pipeline ``name``'s ``controlnet``: the one ControlNet, or the list of them; for a
    pipeline that takes one ControlNet with several control images (Qwen-Image), its multi
    wrapper around that one (``_check_layers`` refused different ones)."""
    if len(nets) == 1:
        return nets[0]
    wrapper = _ONE_CONTROLNET.get(name)
    if wrapper is None:
        return nets
    import diffusers

    return getattr(diffusers, wrapper)([nets[0]])


def sharing_pipeline(cls: Any, pipe: Any, **extra: Any) -> Any:
    """A ``cls`` pipeline on ``pipe``'s own modules (plus ``extra``) and settings. Unlike
    ``from_pipe``, which casts every shared module to one dtype (fp32 unless told), it leaves
    the modules as they are (half precision, fp8 storage, offload hooks)."""
    import inspect

    components = {**pipe.components, **extra}
    settings = {k: v for k, v in pipe.config.items() if not k.startswith("_")}
    arguments = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.name in components:
            arguments[parameter.name] = components[parameter.name]
        elif parameter.name in settings and not isinstance(settings[parameter.name], list):
            arguments[parameter.name] = settings[parameter.name]
    return cls(**arguments)


def layer_image(context: PassContext, layer: ControlLayer, work: Image.Image) -> Image.Image:
    """``layer``'s control image for a pipeline given ``work`` (the work-size picture or the
    only-masked crop): made from the layer's own picture placed like the request's picture,
    or from ``work`` itself."""
    if layer.image is None:
        return control_image(layer, work, work.size)
    size = context.request.output_size()
    picture = layer.image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    if context.region_box is not None:
        picture = picture.crop(context.region_box)
    return control_image(layer, picture, work.size)


def call_arguments(
    layers: list[ControlLayer], images: list[Image.Image], union: bool
) -> dict[str, Any]:
    """The ControlNet pipeline's keyword arguments: one value for one layer, lists for several."""

    def one_or_list(values: list[Any]) -> Any:
        return values[0] if len(values) == 1 else values

    arguments = {
        "control_image": one_or_list(images),
        "controlnet_conditioning_scale": one_or_list([float(x.strength) for x in layers]),
        "control_guidance_start": one_or_list([float(x.start) for x in layers]),
        "control_guidance_end": one_or_list([float(x.end) for x in layers]),
    }
    if union:
        arguments["control_mode"] = one_or_list([UNION_MODES[x.kind] for x in layers])
    return arguments


def control_record(layer: ControlLayer, image: Image.Image) -> dict[str, Any]:
    """What the pass record says about one layer."""
    record: dict[str, Any] = {
        "model": layer.model,
        "kind": layer.kind,
        "strength": layer.strength,
        "start": layer.start,
        "end": layer.end,
    }
    if layer.kind == "canny":
        record.update(low_threshold=layer.low_threshold, high_threshold=layer.high_threshold)
    if layer.kind in ("scribble", "lineart"):
        record["invert"] = layer.invert
    record["image_hash"] = pixel_hash(image)
    return record


def _check_layers(info: Family, layers: list[ControlLayer]) -> None:
    """ModelError (one line, before any ControlNet loads) for layers ``info``'s ControlNet
    pipeline cannot run as asked: different ControlNets where it takes one (Qwen-Image);
    several layers, or a start/end range, where it takes one image over the whole denoise
    (Z-Image)."""
    if info.key in _ONE_CONTROLNET_FAMILIES and len({layer.model for layer in layers}) > 1:
        raise ModelError(
            f"{info.label} takes one ControlNet per pass: "
            "give every control layer the same ControlNet (a union one reads any control type)"
        )
    if info.key not in _ONE_WHOLE_LAYER:
        return
    if len(layers) > 1:
        raise ModelError(f"{info.label} takes one control layer per pass ({len(layers)} given)")
    if any(layer.start != 0.0 or layer.end != 1.0 for layer in layers):
        raise ModelError(
            f"{info.label}'s ControlNet acts over the whole denoise: "
            "set the control layer's start to 0 and end to 1"
        )


def _check_flux_kinds(nets: list[Any]) -> None:
    """ModelError for FLUX.1 ControlNets of both kinds in one pass: the pipeline reads every
    control image the way the first one wants it (pixels for an XLabs-style ControlNet with its
    own hint block, VAE latents for an InstantX-style one)."""
    hints = {net.input_hint_block is None for net in nets if hasattr(net, "input_hint_block")}
    if len(hints) > 1:
        raise ModelError(
            "XLabs-style and InstantX-style FLUX.1 ControlNets cannot be used in the same pass "
            "(the pipeline reads every control image one way)"
        )


def _check_union(nets: list[Any], layers: list[ControlLayer]) -> bool:
    """True when every ControlNet is a union one; ModelError for a mix or a type a union
    ControlNet cannot be told."""
    unions = [is_union(net) for net in nets]
    if not any(unions):
        return False
    if not all(unions):
        raise ModelError("union and single-type ControlNets cannot be used in the same pass")
    for layer in layers:
        if layer.kind not in UNION_MODES:
            raise ModelError(
                f"a union ControlNet cannot tell what a type '{layer.kind}' control image is; "
                "use depth, pose, canny, lineart, scribble or softedge"
            )
    return True
