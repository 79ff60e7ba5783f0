"""A1111 txt2img / img2img bodies as our passes, and the passes' results as A1111's ``info``.

One call becomes ``batch_size × n_iter`` passes with seeds ``seed, seed+1, …`` (A1111's rule;
seed -1 picks one). txt2img is an img2img pass at strength 1 from a mid-grey picture of the asked
size: the model starts from (almost) pure noise, so it is a text-to-image generation (for
flow-matching models, exactly). Whatever a field asks that this engine does not do is noted in
``info["notes"]`` (or refused with 422 where ignoring it would mislead).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from core import __version__
from core.errors import InvalidRequest
from core.imaging import load_mask
from core.imaging.fill import masked_fill
from core.remote.a1111.controlnet import control_layers
from core.remote.a1111.listing import checkpoint_id, scheduler_for
from core.remote.a1111.pictures import decode_picture, resized
from core.remote.a1111.schema import (
    Img2ImgRequest,
    Txt2ImgRequest,
    _Generation,
    invalid,
    parse_body,
)
from core.remote.offered import OfferedModels, client_names
from core.remote.protocol import ProtocolError
from core.requests import MAX_SEED, PassRequest

TXT2IMG_GREY = (128, 128, 128)
_FILLS = ("fill", "original", "latent noise", "latent nothing")


@dataclass(frozen=True)
class Plan:
    """What one A1111 call runs: the offered model id, one request per picture, notes for
    ``info``, the ``parameters`` echo and A1111's job name for ``/progress``."""

    model: str
    requests: tuple[PassRequest, ...]
    notes: tuple[str, ...]
    parameters: dict[str, Any]
    job: str
    sampler_name: str
    timestamp: str
    paths: dict[str, str]  # each server path the checks resolved → the name the client sent


def img2img_plan(body: bytes, current_model: str, offered: OfferedModels) -> Plan:
    """The passes of a ``POST /sdapi/v1/img2img`` body (A1111Invalid for a bad one)."""
    req = parse_body(Img2ImgRequest, body)
    notes: list[str] = []
    size = (req.width, req.height)
    image = decode_picture(req.init_images[0], "init_images", 0).convert("RGB")
    image = resized(image, size, req.resize_mode)
    if len(req.init_images) > 1:
        notes.append("only the first of init_images is used")
    if req.resize_mode == 3:
        notes.append("resize_mode 3 (latent upscale) resizes the picture in pixels")
    changes: dict[str, Any] = {}
    if req.mask:
        mask = decode_picture(req.mask, "mask")
        mask = load_mask(mask, mask.size)  # transparency, when there is any, is the mask
        if req.inpainting_mask_invert:
            mask = ImageOps.invert(mask)
        changes = {
            "mask": resized(mask, size, req.resize_mode),
            "mask_blur": req.mask_blur,
            "inpaint_area": "masked" if req.inpaint_full_res else "whole",
            "padding": req.inpaint_full_res_padding,
        }
        if req.inpainting_fill == 0:  # "fill": the masked area painted over from around it
            image = masked_fill(image, load_mask(changes["mask"], image.size))
        elif req.inpainting_fill > 1:
            fill = _FILLS[req.inpainting_fill]
            notes.append(
                f"inpainting_fill '{fill}' is not offered: masked content starts "
                "from the original picture"
            )
    if req.initial_noise_multiplier not in (None, 1.0):
        notes.append("initial_noise_multiplier ignored")
    strength = 0.75 if req.denoising_strength is None else req.denoising_strength
    parameters = req.model_dump()
    if not req.include_init_images:
        parameters.update(init_images=None, mask=None)
    return _plan(req, image, strength, changes, notes, parameters, current_model, offered)


def txt2img_plan(body: bytes, current_model: str, offered: OfferedModels) -> Plan:
    """The passes of a ``POST /sdapi/v1/txt2img`` body: strength 1 from a mid-grey picture."""
    req = parse_body(Txt2ImgRequest, body)
    notes: list[str] = []
    if req.enable_hr:
        notes.append("hires fix is not offered: run an img2img pass on the result")
    image = Image.new("RGB", (req.width, req.height), TXT2IMG_GREY)
    parameters = req.model_dump()
    return _plan(req, image, 1.0, {}, notes, parameters, current_model, offered)


def _plan(
    req: _Generation,
    image: Image.Image,
    strength: float,
    changes: dict[str, Any],
    notes: list[str],
    parameters: dict[str, Any],
    current_model: str,
    offered: OfferedModels,
) -> Plan:
    # 1. Fields that would mislead if ignored are refused; the others are noted.
    if req.script_name:
        raise invalid(f"Script '{req.script_name}' not found", "script_name")
    _note_ignored(req, notes)
    sampler, reported = scheduler_for(req.sampler_name or req.sampler_index, req.scheduler, notes)
    # 2. The model: override_settings for this call, else the one /options chose.
    overrides = dict(req.override_settings or {})
    title = overrides.pop("sd_model_checkpoint", None)
    model = checkpoint_id(offered, str(title)) if title else current_model
    if overrides:
        notes.append("override_settings ignored: " + ", ".join(sorted(overrides)))
    # 3. One request per picture, checked against what the worker offers.
    count = req.batch_size * req.n_iter
    if count > 8:
        raise invalid(f"at most 8 pictures per call, asked {count}", "n_iter")
    first = random.randint(0, MAX_SEED) if req.seed < 0 else req.seed
    controls = control_layers(req.alwayson_scripts)
    base = PassRequest(
        image,
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        strength=strength,
        steps=req.steps,
        cfg=req.cfg_scale,
        seed=first,
        scheduler=sampler,
        width=req.width,
        height=req.height,
        controls=controls,
        **changes,
    )
    try:
        checked = offered.checked(base.validate())
        offered.reference(model)
    except (InvalidRequest, ProtocolError) as exc:
        raise invalid(str(exc)) from None
    requests = tuple(checked.replace(seed=(first + i) % (MAX_SEED + 1)) for i in range(count))
    job = "scripts_img2img" if isinstance(req, Img2ImgRequest) else "scripts_txt2img"
    stamp = time.strftime("%Y%m%d%H%M%S")
    paths = client_names(base, checked)
    return Plan(model, requests, tuple(notes), parameters, job, reported, stamp, paths)


def _note_ignored(req: _Generation, notes: list[str]) -> None:
    if req.subseed_strength > 0:
        notes.append("variation seeds are not offered: subseed and subseed_strength ignored")
    if req.seed_resize_from_h > 0 or req.seed_resize_from_w > 0:
        notes.append("seed_resize_from_h/w ignored")
    if req.styles:
        notes.append("styles ignored (the worker keeps no saved styles)")
    if req.restore_faces:
        notes.append("restore_faces ignored")
    if req.tiling:
        notes.append("tiling ignored")
    if req.save_images:
        notes.append("the worker saves nothing: the pictures are in this response")


def info_json(plan: Plan, records: list[dict[str, Any]], infotexts: list[str]) -> dict[str, Any]:
    """A1111's ``info`` (``Processed.js()``) for the finished pictures, with ``notes``."""
    first = plan.requests[0]
    record = records[0] if records else {}
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    seeds = [int(r.get("seed", 0)) for r in records] or [first.seed or 0]
    prompts = [str(r.get("prompt", first.prompt)) for r in records] or [first.prompt]
    negatives = [str(r.get("negative_prompt", "")) for r in records] or [first.negative_prompt]
    notes = list(plan.notes) + [str(r["note"]) for r in records if r.get("note")]
    return {
        "prompt": prompts[0],
        "all_prompts": prompts,
        "negative_prompt": negatives[0],
        "all_negative_prompts": negatives,
        "seed": seeds[0],
        "all_seeds": seeds,
        "subseed": -1,
        "all_subseeds": [-1] * len(seeds),
        "subseed_strength": 0,
        "width": first.width,
        "height": first.height,
        "sampler_name": plan.sampler_name,
        "cfg_scale": first.cfg,
        "steps": first.steps,
        "batch_size": len(plan.requests),
        "restore_faces": False,
        "face_restoration_model": None,
        "sd_model_name": (model or {}).get("name"),
        "sd_model_hash": (model or {}).get("hash") or None,
        "sd_vae_name": None,
        "sd_vae_hash": None,
        "seed_resize_from_w": -1,
        "seed_resize_from_h": -1,
        "denoising_strength": first.strength,
        "extra_generation_params": {},
        "index_of_first_image": 0,
        "infotexts": infotexts,
        "styles": [],
        "job_timestamp": plan.timestamp,
        "clip_skip": 1,
        "is_using_inpainting_conditioning": False,
        "version": f"img2img-studio {__version__}",
        "notes": notes,
    }
