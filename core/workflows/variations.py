"""Variations: one request at N seeds (base, base+1, …), tied together by a group id."""

from __future__ import annotations

from collections.abc import Sequence

from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import EventCallback, PassResult
from core.models import ModelSpec
from core.request_rules import check_runs_steps, tagged
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, new_group_id, seed_list
from core.workflows.driver import PassCallback, Plan, Unit, run_plan


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
    group = group or new_group_id()

    def unit(index: int, seed: int) -> Unit:
        workflow = {
            "type": "variations",
            "group": group,
            "index": index,
            "of": count,
            "seeds": seeds,
        }
        label = f"variation {index}/{count} · seed {seed}"
        return Unit(label, lambda _: tagged(request, workflow, seed=seed))

    plan = Plan("variations", [unit(k, seed) for k, seed in enumerate(seeds, 1)])
    return run_plan(engine, spec, plan, on_event, on_pass, on_progress, cancel).results
