"""The pass record: the JSON written into every PNG, enough to describe and reproduce a pass.

A pass records its model's hash only if it is known by the time the pass ends (hashing runs in
the background, see ``core.models.hashes``); writers complete it with
:func:`core.hashing.complete_model_hash` just before writing.
"""

from __future__ import annotations

from typing import Any

from core import __version__
from core.conditioning.regional import region_records
from core.hashing import pixel_hash
from core.models import LoadedModel
from core.requests import PassRequest


def pass_record(
    request: PassRequest,
    kind: str,
    seed: int,
    steps_run: int,
    model: LoadedModel | None,
    size: tuple[int, int],
    work_size: tuple[int, int] | None,
    duration: float,
) -> dict[str, Any]:
    """Everything about one pass: parameters, model, sizes, input hashes, then ``request.extra``."""
    record: dict[str, Any] = {
        "app": "Img2Img Studio",
        "app_version": __version__,
        "kind": kind,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "strength": round(float(request.strength), 4),
        "steps": request.steps,
        "effective_steps": steps_run,
        "cfg": float(request.cfg),
        "seed": seed,
        "scheduler": request.scheduler,
        "width": size[0],
        "height": size[1],
        "work_size_setting": request.work_size,
        "model": {
            "name": model.name if model else "",
            "reference": model.spec.reference if model else "",
            "hash": model.hash if model else "",
            "family": model.family if model else "",
            "memory": model.memory_mode if model else "",
            "memory_reason": model.memory_reason if model else "",
            "quantize": model.quantize if model else "",
            "compile": model.compiled if model else "",
            # where it ran: the window's About dialog shows the last pass's device and precision
            "device": model.device if model else "",
            "dtype": str(model.dtype).removeprefix("torch.") if model else "",
        },
        "input_hash": pixel_hash(request.image),
        "color_match": request.colour_matched,  # what ran (the request may say "auto")
        "duration": round(duration, 3),
    }
    if work_size is not None:
        record["work_size"] = f"{work_size[0]}x{work_size[1]}"
    if request.mask is not None:
        record.update(
            mask_hash=pixel_hash(request.mask),
            mask_blur=request.mask_blur,
            inpaint_area=request.inpaint_area,
            padding=request.padding,
        )
        if request.soft_inpaint:
            record["soft_inpaint"] = True
    if request.strength_map is not None:
        record["strength_map_hash"] = pixel_hash(request.strength_map)
    if request.regions:
        record["regions"] = region_records(request.regions)
    if request.edit_references:
        record["edit_references"] = [
            {"hash": pixel_hash(ref), "width": ref.width, "height": ref.height}
            for ref in request.edit_references
        ]
    record.update(request.extra)
    return record
