"""Variations: one request at N seeds (base, base+1, …), tied together by a group id."""

from __future__ import annotations

from collections.abc import Sequence

from core.engine import CancelToken, Engine
from core.errors import PassCancelled, UserError
from core.events import EventCallback, PassResult
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import (
    ProgressCallback,
    ProgressClock,
    check_runs_steps,
    new_group_id,
    seed_list,
    tagged,
    token_for,
)
from core.workflows.multipass import PassCallback


def run_variations(
    engine: Engine,
    request: PassRequest,
    spec: ModelSpec,
    count: int,
    *,
    seeds: Sequence[int] | None = None,
    group: str | None = None,
    on_event: EventCallback | None = None,
    on_pass: PassCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[PassResult]:
    """Run ``request`` ``count`` times with seeds ``base, base+1, …`` (base: ``request.seed`` or
    random) or the explicit ``seeds``. Each record carries ``extra["workflow"] = {"type":
    "variations", "group", "index", "of", "seeds"}``. On cancel the finished ones are returned."""
    if count < 1:
        raise UserError(f"the number of variations must be at least 1, got {count}")
    seeds = list(seeds) if seeds is not None else seed_list(request.seed, count)
    if len(seeds) != count:
        raise UserError(f"{count} variations need {count} seeds, got {len(seeds)}")
    check_runs_steps(request, "every variation would be the input")
    token = token_for(cancel)
    group = group or new_group_id()
    clock = ProgressClock("variations", count, on_progress)
    results: list[PassResult] = []
    for index, seed in enumerate(seeds, 1):
        if token.cancelled:
            break
        workflow = {
            "type": "variations",
            "group": group,
            "index": index,
            "of": count,
            "seeds": seeds,
        }
        label = f"variation {index}/{count} · seed {seed}"
        clock.start(index, label)
        try:
            result = engine.run_pass(
                tagged(request, workflow, seed=seed), spec, on_event=on_event, cancel=token
            )
        except PassCancelled:
            break
        results.append(result)
        clock.finish(index, label=label)
        if on_pass is not None:
            on_pass(index, result)
    return results
