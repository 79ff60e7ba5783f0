"""Multi-pass refinement: a schedule of strengths (e.g. 0.7 → 0.4 → 0.2), each pass on the last.

The colour-drift guard matches every whole-picture pass's output to the *original* source's colour
statistics (CIELAB mean / deviation), which stops the darkening that repeated img2img passes cause;
with a mask, each pass's own colour match (the repainted area matched to the picture around it,
done by the engine) takes its place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from core.engine import CancelToken, Engine
from core.events import EventCallback, PassResult
from core.hashing import pixel_hash
from core.imaging import match_colors
from core.models import ModelSpec
from core.request_rules import tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, check_strengths, seed_list
from core.workflows.driver import PassCallback, Plan, Unit, run_plan

__all__ = ["PassCallback", "run_schedule"]


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
    schedule = check_strengths(request, strengths, "schedule")
    seeds = seed_list(request.seed, len(schedule))
    masked = request.mask is not None
    guard = color_match and not masked  # with a mask the engine matches each pass itself
    after = (lambda result: _match_to_source(result, request)) if guard else None

    def unit(index: int, strength: float) -> Unit:
        workflow = {
            "type": "multipass",
            "schedule": schedule,
            "index": index,
            "of": len(schedule),
            "parent_index": index - 1,
        }

        def build(done: Sequence[PassResult]) -> PassRequest:
            # Pass k works on pass k-1's output, at the first pass's size.
            start = done[-1].image if done else request.image
            size = {"width": None, "height": None} if done else {}
            changes = {"strength": strength, "seed": seeds[index - 1], **size}
            matched = color_match and masked  # the whole-picture guard runs after the pass
            return tagged(request, workflow, image=start, color_match=matched, **changes)

        return Unit(f"pass {index}/{len(schedule)} · s={strength:.2f}", build, after)

    plan = Plan("multipass", [unit(k, s) for k, s in enumerate(schedule, 1)])
    return run_plan(engine, spec, plan, on_event, on_pass, on_progress, cancel).results


def _match_to_source(result: PassResult, original: PassRequest) -> PassResult:
    """Colour-match the whole of ``result`` to the original source."""
    matched = match_colors(result.image, original.image)
    record = {**result.record, "color_match": True, "output_hash": pixel_hash(matched)}
    return dataclasses.replace(result, image=matched, record=record)
