"""IP-Adapter references: the adapter and its image encoder loaded once, the reference images.

Each reference gets its own adapter instance (diffusers gives every loaded adapter one image and
one scale), so two references may use the same file at different scales. The adapters live in
the UNet, which every pipeline of a loaded model shares; the image encoder is loaded once per
loaded model and handed to whichever pipeline the pass calls. A pass without references unloads
the adapters, so it runs exactly as if none had ever been loaded.

Modes (InstantStyle: the adapter acts only in some attention blocks):

- ``standard``: every cross-attention layer, at the reference's scale (SD 1.x and SDXL);
- ``style``: only the middle attention of the first up block with attention (SDXL's
  ``up.block_0`` [0, s, 0]): the reference's colours, materials and mood;
- ``composition``: only the last attention of the last down block with attention (SDXL's
  ``down.block_2`` [0, s]): its layout.

Style and composition need SDXL; on SD 1.x the blocks do not separate them, and they are refused.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from core.conditioning.context import PassContext
from core.conditioning.ip_adapter_files import AdapterFiles, resolve_adapter
from core.conditioning.specs import Reference
from core.errors import InvalidRequest, ModelError
from core.events import ModelLoading
from core.hashing import pixel_hash
from core.models import LoadedModel

MODE_FAMILIES = {"standard": ("sd1", "sdxl"), "style": ("sdxl",), "composition": ("sdxl",)}


class AdapterState:
    """One loaded model's IP-Adapter state: the image encoders and the adapters in its UNet."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.encoders: dict[Path, tuple[Any, Any]] = {}  # folder → (encoder, image processor)
        self.loaded: tuple[Path, ...] = ()  # the adapter files in the UNet, one per reference
        self.encoder_loads = 0  # image encoders loaded from disk (tests count them)

    def encoder(self, folder: Path, device: str, dtype: Any) -> tuple[Any, Any]:
        """The image encoder and its processor in ``folder``, loaded on first use."""
        if folder not in self.encoders:
            self.encoders[folder] = _load_encoder(folder, device, dtype)
            self.encoder_loads += 1
        return self.encoders[folder]


_STATES: dict[str, AdapterState] = {}


def state_for(model: LoadedModel) -> AdapterState:
    """The IP-Adapter state of the loaded ``model``; it goes when the model
    goes, and another model's is dropped."""
    identity = model.identity
    if identity not in _STATES:
        _STATES.clear()
        _STATES[identity] = AdapterState(identity)
        weakref.finalize(model, _STATES.pop, identity, None)
    return _STATES[identity]


def reference_kwargs(context: PassContext, pipe: Any) -> dict[str, Any]:
    """Extra keyword arguments carrying the pass's reference images (empty without any); the
    references are recorded in ``context.record_extra["references"]``."""
    model = context.model
    state = state_for(model)
    references = context.request.references
    if not references:
        if state.loaded:
            pipe.unload_ip_adapter()
            state.loaded = ()
        return {}
    if context.request.regions:  # the regional processor does not pass the image tokens on yet
        raise InvalidRequest("regional prompts cannot be combined with IP-Adapter references yet")
    info = model.family_info
    if not info.ip_adapter:
        raise ModelError(f"IP-Adapter references are not available for {info.label} models")
    for reference in references:
        if model.family not in MODE_FAMILIES[reference.mode]:
            raise ModelError(
                f"{reference.mode} references need an SDXL model (InstantStyle); "
                f"use mode standard on {info.label}"
            )
    # 1. The adapter files and the one image encoder they share, loaded once.
    files = [resolve_adapter(reference.model, model.family) for reference in references]
    encoders = {f.encoder for f in files}
    if len(encoders) > 1:
        raise ModelError("references in one pass must use IP-Adapters with the same image encoder")
    if files[0].encoder not in state.encoders:
        context.emit(ModelLoading(str(files[0].encoder), "Loading the IP-Adapter image encoder…"))
    encoder, processor = state.encoder(files[0].encoder, model.device, model.dtype)
    pipe.register_modules(image_encoder=encoder, feature_extractor=processor)
    # 2. The adapters in the UNet (shared by every pipeline), reloaded only when they change.
    wanted = tuple(f.weights for f in files)
    if state.loaded != wanted:
        if state.loaded:
            pipe.unload_ip_adapter()
            pipe.register_modules(image_encoder=encoder, feature_extractor=processor)
        _load_adapters(pipe, files, model)
        state.loaded = wanted
    # 3. Each reference's scale (per block for style and composition), its image, the record.
    pipe.set_ip_adapter_scale([scale_config(pipe.unet, r) for r in references])
    context.record_extra["references"] = [
        {"model": r.model, "scale": r.scale, "mode": r.mode, "image_hash": pixel_hash(r.image)}
        for r in references
    ]
    return {"ip_adapter_image": [r.image.convert("RGB") for r in references]}


def scale_config(unet: Any, reference: Reference) -> Any:
    """diffusers' ``set_ip_adapter_scale`` value for one reference (see the module docstring)."""
    scale = float(reference.scale)
    if reference.mode == "standard":
        return scale
    config = unet.config
    if reference.mode == "style":
        block = next(i for i, b in enumerate(unet.up_blocks) if hasattr(b, "attentions"))
        layers = [0.0] * (config.layers_per_block + 1)
        layers[min(1, len(layers) - 1)] = scale
        return {"up": {f"block_{block}": layers}}
    blocks = [i for i, b in enumerate(unet.down_blocks) if hasattr(b, "attentions")]
    layers = [0.0] * config.layers_per_block
    layers[-1] = scale
    return {"down": {f"block_{blocks[-1]}": layers}}


def _load_adapters(pipe: Any, files: list[AdapterFiles], model: Any) -> None:
    folders, subfolders, names = zip(*(f.load_arguments for f in files), strict=True)
    try:
        pipe.load_ip_adapter(
            list(folders),
            subfolder=list(subfolders),
            weight_name=list(names),
            image_encoder_folder=None,
            local_files_only=True,
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the IP-Adapter {files[0].weights.name}: {first}") from None
    unet = pipe.unet
    if unet.encoder_hid_proj is not None:
        unet.encoder_hid_proj.to(model.device, model.dtype)
    for processor in unet.attn_processors.values():
        if hasattr(processor, "to_k_ip"):
            processor.to(model.device, model.dtype)


def _load_encoder(folder: Path, device: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    try:
        encoder: Any = CLIPVisionModelWithProjection.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=dtype
        )
        encoder = encoder.to(device)
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"cannot load the image encoder {folder}: {first}") from None
    config = folder / "preprocessor_config.json"
    if config.is_file():
        processor = CLIPImageProcessor.from_json_file(config)
    else:
        size = int(encoder.config.image_size)
        processor = CLIPImageProcessor(size=size, crop_size=size)
    return encoder, processor
