"""The one loop every workflow runs: a plan of units, each one pass, with cancel and progress.

A workflow turns its settings into a :class:`Plan` (a list of :class:`Unit`) and hands it to
:func:`run_plan`, which owns the loop: it checks the cancel token before each unit, reports
``running`` / ``done`` / ``skipped`` / ``failed`` through a :class:`ProgressClock`, runs the pass,
applies the unit's ``after`` hook, calls ``on_pass`` and stops, keeping what finished, on cancel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.engine import CancelToken, Engine
from core.errors import ModelError, PassCancelled, UserError
from core.events import EventCallback, PassResult
from core.models import ModelSpec
from core.requests import PassRequest
from core.workflows.common import ProgressCallback, ProgressClock, token_for

PassCallback = Callable[[int, PassResult], None]


class Skip(Exception):
    """Raised by a unit's ``build`` to skip it without running a pass (the message says why)."""


@dataclass(frozen=True)
class Unit:
    """One pass of a plan.

    ``build(done)`` makes the pass's request from the results finished before it (it may raise
    :class:`Skip`); ``after(result)`` runs once the pass is done and returns the result to keep
    (colour-matched, written to a file, blended into a canvas…).
    """

    label: str
    build: Callable[[Sequence[PassResult]], PassRequest]
    after: Callable[[PassResult], PassResult] | None = None


@dataclass(frozen=True)
class Plan:
    """The units of a ``workflow`` (its name in progress reports). With ``keep_going`` a unit
    that raises a UserError (not a ModelError: that fails every unit) is reported as failed and
    the plan goes on; otherwise the error stops the plan."""

    workflow: str
    units: Sequence[Unit]
    keep_going: bool = False


@dataclass(frozen=True)
class Step:
    """What became of unit ``index`` (1-based): ``status`` is "done", "skipped" or "failed"."""

    index: int
    status: str
    result: PassResult | None = None
    message: str = ""
    duration: float = 0.0


@dataclass
class Outcome:
    """The steps that ran, in order; ``cancelled`` when the plan stopped before its end."""

    steps: list[Step] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def results(self) -> list[PassResult]:
        """The results of the finished passes, in order."""
        return [step.result for step in self.steps if step.result is not None]


def run_plan(
    engine: Engine,
    spec: ModelSpec,
    plan: Plan,
    on_event: EventCallback | None = None,
    on_pass: PassCallback | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Run ``plan``'s units in order, one pass each.

    For unit k (1-based) ``on_progress`` gets ``running`` and then its status, and
    ``on_pass(k, result)`` follows a finished pass. A cancel (the token set between units, or
    PassCancelled from a pass) stops the plan: the finished steps are kept and ``cancelled`` set.
    """
    token = token_for(cancel)
    clock = ProgressClock(plan.workflow, len(plan.units), on_progress)
    outcome = Outcome()
    for index, unit in enumerate(plan.units, 1):
        if token.cancelled:
            outcome.cancelled = True
            break
        clock.start(index, unit.label)
        try:
            step = _run_unit(engine, spec, plan, index, unit, outcome.results, on_event, token)
        except PassCancelled:
            outcome.cancelled = True
            break
        outcome.steps.append(step)
        worked = step.status != "skipped"
        clock.finish(index, step.status, unit.label, step.message, worked=worked)
        if step.result is not None and on_pass is not None:
            on_pass(index, step.result)
    outcome.elapsed = clock.elapsed
    return outcome


def _run_unit(
    engine: Engine,
    spec: ModelSpec,
    plan: Plan,
    index: int,
    unit: Unit,
    done: Sequence[PassResult],
    on_event: EventCallback | None,
    token: CancelToken,
) -> Step:
    started = time.perf_counter()
    try:
        request = unit.build(done)
        result = engine.run_pass(request, spec, on_event=on_event, cancel=token)
        if unit.after is not None:
            result = unit.after(result)
    except Skip as skip:
        return Step(index, "skipped", message=str(skip))
    except ModelError:
        raise
    except UserError as exc:
        if not plan.keep_going:
            raise
        duration = time.perf_counter() - started
        return Step(index, "failed", message=str(exc), duration=duration)
    duration = time.perf_counter() - started
    return Step(index, "done", result, result.note, duration)
