"""The workflow driver on a fake engine: order, chaining, cancel, skip/fail handling, progress."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from core.engine import CancelToken
from core.errors import ImageError, ModelError, PassCancelled
from core.events import PassResult
from core.requests import PassRequest
from core.workflows.driver import Plan, Skip, Unit, run_plan
from core.workflows.multipass import run_schedule
from core.workflows.sweep import run_sweep
from core.workflows.variations import run_variations
from tests.tiny_models.images import make_image


class FakeEngine:
    """Returns each request's image as is; ``cancel_on`` makes call k behave like Ctrl+C."""

    def __init__(self, cancel_on: int | None = None) -> None:
        self.requests: list[PassRequest] = []
        self.cancel_on = cancel_on

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.requests.append(request)
        if len(self.requests) == self.cancel_on:
            cancel.cancel()
            raise PassCancelled()
        record = {"seed": request.seed, "workflow": request.extra.get("workflow")}
        return PassResult(request.image, request, request.seed or 0, 1, 0.0, "fake", "", record)


def _request(**changes) -> PassRequest:
    values = {"image": make_image(16, 16), "prompt": "a cat", "steps": 4, "cfg": 1.0, "seed": 1}
    return PassRequest(**{**values, **changes})


def _units(count: int) -> list[Unit]:
    return [Unit(f"u{k}", lambda done, k=k: _request(seed=k)) for k in range(1, count + 1)]


def _events(progress) -> list[tuple[int, str, str]]:
    return [(p.index, p.status, p.label) for p in progress]


def test_cancel_between_units_keeps_exactly_the_finished_ones():
    engine, token, progress, passes = FakeEngine(), CancelToken(), [], []

    def on_pass(index, result):
        passes.append((index, result.seed))
        if index == 2:
            token.cancel()

    plan = Plan("test", _units(4))
    outcome = run_plan(engine, None, plan, None, on_pass, progress.append, token)
    assert outcome.cancelled and len(engine.requests) == 2
    assert [(s.index, s.status) for s in outcome.steps] == [(1, "done"), (2, "done")]
    assert [r.seed for r in outcome.results] == [1, 2] and passes == [(1, 1), (2, 2)]
    assert _events(progress) == [
        (1, "running", "u1"),
        (1, "done", "u1"),
        (2, "running", "u2"),
        (2, "done", "u2"),
    ]
    assert progress[0].eta is None and progress[1].eta is not None
    assert all(p.workflow == "test" and p.total == 4 for p in progress)


def test_a_pass_cancelled_midway_is_not_kept_or_reported_done():
    engine, progress, passes = FakeEngine(cancel_on=2), [], []
    outcome = run_plan(
        engine, None, Plan("test", _units(3)), None, lambda k, r: passes.append(k), progress.append
    )
    assert outcome.cancelled and passes == [1] and len(outcome.results) == 1
    assert [(i, s) for i, s, _ in _events(progress)] == [
        (1, "running"),
        (1, "done"),
        (2, "running"),
    ]


def test_each_unit_builds_on_what_ran_before_and_after_hooks_shape_the_kept_result():
    seen: list[list[int]] = []

    def build(done):
        seen.append([r.seed for r in done])
        return _request(seed=len(done) + 10)

    def after(result):
        return dataclasses.replace(result, seed=result.seed * 2)

    outcome = run_plan(
        FakeEngine(), None, Plan("chain", [Unit(f"u{k}", build, after) for k in range(3)])
    )
    assert seen == [[], [20], [20, 22]]  # every unit sees the *after*-hooked results
    assert [r.seed for r in outcome.results] == [20, 22, 24] and not outcome.cancelled
    assert outcome.elapsed > 0


def test_keep_going_files_skipped_and_failed_units_and_goes_on():
    def skip(done):
        raise Skip("already done")

    def broken(done):
        raise ImageError("cannot read image b.png")

    units = [Unit("a", skip), Unit("b", broken), Unit("c", lambda done: _request(seed=3))]
    progress = []
    outcome = run_plan(
        FakeEngine(), None, Plan("batch", units, keep_going=True), None, None, progress.append
    )
    assert [(s.index, s.status, s.message) for s in outcome.steps] == [
        (1, "skipped", "already done"),
        (2, "failed", "cannot read image b.png"),
        (3, "done", ""),
    ]
    assert [(i, s) for i, s, _ in _events(progress) if s != "running"] == [
        (1, "skipped"),
        (2, "failed"),
        (3, "done"),
    ]
    # A skipped unit did no work: no ETA until a unit has worked; none left after the last.
    assert progress[1].eta is None and progress[-1].eta == 0


def test_errors_stop_the_plan_unless_it_keeps_going_and_model_errors_always_do():
    def broken(done):
        raise ImageError("bad image")

    def no_model(done):
        raise ModelError("no such model")

    with pytest.raises(ImageError):
        run_plan(FakeEngine(), None, Plan("t", [Unit("a", broken)]))
    with pytest.raises(ModelError):
        run_plan(FakeEngine(), None, Plan("t", [Unit("a", no_model)], keep_going=True))


@pytest.mark.parametrize("workflow", ["multipass", "sweep", "variations"])
def test_workflows_cancelled_between_units_keep_the_finished_passes(workflow):
    engine, token, progress = FakeEngine(), CancelToken(), []

    def on_pass(index, result):
        if index == 2:
            token.cancel()

    callbacks: dict[str, Any] = {"on_pass": on_pass, "on_progress": progress.append}
    callbacks["cancel"] = token
    if workflow == "multipass":
        kept = run_schedule(engine, _request(), None, [0.5, 0.5, 0.5], **callbacks)
    elif workflow == "sweep":
        kept = run_sweep(engine, _request(), None, [0.5, 0.75], seeds=2, **callbacks).results()
    else:
        kept = run_variations(engine, _request(), None, 3, **callbacks)
    assert len(engine.requests) == 2 and len(kept) == 2
    assert [r.record["workflow"]["index"] for r in kept] == [1, 2]
    assert [(p.index, p.status) for p in progress] == [
        (1, "running"),
        (1, "done"),
        (2, "running"),
        (2, "done"),
    ]
    assert {p.workflow for p in progress} == {workflow}
