"""The recorded-settings rule: an existing output is done only when its record shows this run's
settings and the same input pixels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import ImageError, UserError
from core.hashing import pixel_hash
from core.imaging import load_image
from core.metadata import read_metadata
from core.models import ModelSpec
from core.requests import PassRequest


def find_done(
    sources: Sequence[Path],
    outputs: Sequence[Path],
    request: PassRequest,
    spec: ModelSpec,
    seeds: Sequence[int | None] | None = None,
) -> list[bool]:
    """Which ``outputs`` already hold what this run would write for ``sources``, in order.

    An existing output is done only when the JSON record in it shows this run's settings (prompt,
    negative prompt, strength, steps, CFG, the item's seed, scheduler, work size setting, size,
    colour match, model reference, mask / strength map hashes and mask options, an edit model's
    references) and the same input
    pixels (``input_hash``). ``seeds`` holds each item's seed (default: ``request.seed`` for all);
    a None seed (a random run, which no run can reproduce) accepts any recorded seed: the earlier
    random pick stands. A missing output, or one whose input cannot be read (its item fails when
    it runs), is not done.

    Raises UserError (one line, before anything runs) when outputs exist with other settings,
    without a record or from another workflow, saying how many and to use --overwrite or a new
    folder.
    """
    expected = expected_settings(request, spec)
    item_seeds = list(seeds) if seeds is not None else [request.seed] * len(sources)
    done: list[bool] = []
    others: list[tuple[Path, str]] = []
    for source, output, seed in zip(sources, outputs, item_seeds, strict=True):
        wanted = expected if seed is None else {**expected, "seed": seed}
        reason = _why_not_done(output, source, request, wanted) if output.exists() else ""
        done.append(output.exists() and reason is None)
        if reason:
            others.append((output, reason))
    if others:
        first, reason = others[0]
        one = len(others) == 1
        raise UserError(
            f"{len(others)} output{'' if one else 's'} in {first.parent} already "
            f"exist{'s' if one else ''} with other settings ({first.name}: {reason}); "
            "use --overwrite to replace them or choose a new output folder"
        )
    return done


def expected_settings(request: PassRequest, spec: ModelSpec) -> dict[str, Any]:
    """The record values (as :func:`core.engine.record.pass_record` writes them) that define a
    batch, besides each item's seed, size and pixels."""
    mask, strength_map = request.mask, request.strength_map
    expected: dict[str, Any] = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "strength": round(float(request.strength), 4),
        "steps": request.steps,
        "cfg": float(request.cfg),
        "scheduler": request.scheduler,
        "work_size_setting": request.work_size,
        "color_match": request.colour_matched,
        "mask_hash": pixel_hash(mask) if mask is not None else None,
        "strength_map_hash": pixel_hash(strength_map) if strength_map is not None else None,
    }
    if mask is not None:
        expected.update(
            mask_blur=request.mask_blur, inpaint_area=request.inpaint_area, padding=request.padding
        )
    # an edit model's references (given once, the same for every item), as the record lists them
    expected["edit_references"] = [
        {"hash": pixel_hash(ref), "width": ref.width, "height": ref.height}
        for ref in request.edit_references
    ] or None
    expected["model"] = spec.reference
    return expected


def _why_not_done(
    output: Path, source: Path, request: PassRequest, expected: dict[str, Any]
) -> str | None:
    """Why the existing ``output`` is not this run's result for ``source`` (None when it is);
    "" when the input cannot be read (its item then fails when it runs)."""
    try:
        record = read_metadata(output)["record"]
    except ImageError:
        record = None
    if not isinstance(record, dict):
        return "no settings record"
    workflow = record.get("workflow")
    if not isinstance(workflow, dict) or workflow.get("type") != "batch":
        return "not a batch output"
    model = record.get("model")
    recorded = {key: record.get(key) for key in expected}
    recorded["model"] = model.get("reference") if isinstance(model, dict) else None
    if record.get("effective_steps") == 0:  # nothing ran: the model made no difference
        recorded["model"] = expected["model"]
    names = [key for key, value in expected.items() if recorded[key] != value]
    if not names:  # the settings match: the input's pixels (and the size they give) decide
        try:
            image = load_image(source)
        except ImageError:
            return ""
        size = [request.width or image.width, request.height or image.height]
        if [record.get("width"), record.get("height")] != size:
            names.append("size")
        if record.get("input_hash") != pixel_hash(image):
            names.append("input")
    if not names:
        return None
    return f"{', '.join(names)} differ{'s' if len(names) == 1 else ''}"
