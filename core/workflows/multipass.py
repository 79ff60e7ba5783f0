"""Multi-pass refinement: a schedule of strengths (e.g. 0.7 → 0.4 → 0.2), each pass on the last.

The colour-drift guard matches every pass's output to the *original* source's colour statistics
(CIELAB mean / deviation), which stops the darkening that repeated img2img passes cause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from core.engine import CancelToken, Engine
from core.errors import PassCancelled
from core.events import EventCallback, PassResult
from core.hashing import pixel_hash
from core.imaging import blur_mask, composite, load_mask, match_colors
from core.models import ModelSpec
from core.requests import MAX_SEED, PassRequest
from core.workflows.common import (
    ProgressCallback,
    ProgressClock,
    check_strengths,
    pick_seed,
    tagged,
    token_for,
)

PassCallback = Callable[[int, PassResult], None]


def run_schedule(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    strengths: Sequence[float],
    *,
    color_match: bool = True,
    on_event: EventCallback | None = None,
    on_pass: PassCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[PassResult]:
    """Run ``strengths`` as passes, pass k's input being pass k-1's (colour-matched) output.

    Pass k (1-based) uses seed ``base + k - 1`` (base: ``request.seed`` or a random one) and
    carries ``extra["workflow"] = {"type": "multipass", "schedule", "index": k, "of": n,
    "parent_index": k - 1}`` (0 = the source). ``on_pass(k, result)`` is called as soon as a pass
    is done. Raises UserError, before any model loads, when a pass would run 0 steps. On cancel
    the finished passes are returned (``cancel.cancelled`` tells the caller it stopped early).
    """
    # 1. Validate the whole schedule first: nothing loads when any pass is invalid.
    schedule = check_strengths(request, strengths, "schedule")
    token = token_for(cancel)
    base_seed = pick_seed(request.seed)
    clock = ProgressClock("multipass", len(schedule), on_progress)
    results: list[PassResult] = []
    current = request.image
    # 2. Chain the passes; each output becomes the next input.
    for index, strength in enumerate(schedule, 1):
        if token.cancelled:
            break
        workflow = {
            "type": "multipass",
            "schedule": schedule,
            "index": index,
            "of": len(schedule),
            "parent_index": index - 1,
        }
        seed = (base_seed + index - 1) % (MAX_SEED + 1)
        step = tagged(
            request, workflow, image=current, strength=strength, seed=seed, color_match=color_match
        )
        label = f"pass {index}/{len(schedule)} · s={strength:.2f}"
        clock.start(index, label)
        try:
            result = engine.run_pass(step, spec, on_event=on_event, cancel=token)
        except PassCancelled:
            break
        if color_match:
            result = _match_to_source(result, request)
        results.append(result)
        current = result.image
        clock.finish(index, label=label)
        if on_pass is not None:
            on_pass(index, result)
        # Later passes work at the first pass's size (width/height already applied).
        request = request.replace(width=None, height=None)
    return results


def _match_to_source(result: PassResult, original: PassRequest) -> PassResult:
    """Colour-match ``result`` to the original source; with a mask only inside the mask."""
    matched = match_colors(result.image, original.image)
    if original.mask is not None:
        mask = blur_mask(load_mask(original.mask, result.image.size), original.mask_blur)
        matched = composite(result.image, matched, mask)
    record = {**result.record, "color_match": True, "output_hash": pixel_hash(matched)}
    return dataclasses.replace(result, image=matched, record=record)
