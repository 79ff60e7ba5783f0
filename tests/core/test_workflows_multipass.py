from __future__ import annotations

import numpy as np
import pytest

from core.engine import CancelToken, Engine
from core.errors import UserError
from core.events import PassStarted
from core.hashing import pixel_hash
from core.imaging import blur_mask
from core.requests import PassRequest
from core.workflows.multipass import run_schedule
from tests.tiny_models.images import make_image, make_mask


def _request(**changes) -> PassRequest:
    values = {"image": make_image(64, 64), "prompt": "a cat", "steps": 10, "cfg": 1.0, "seed": 7}
    values.update(changes)
    return PassRequest(**values)


def test_schedule_chains_passes_in_order(engine, spec):
    request = _request()
    seen = []
    progress = []
    results = run_schedule(
        engine,
        request,
        spec,
        [0.7, 0.4, 0.2],
        on_pass=lambda k, r: seen.append((k, r)),
        on_progress=progress.append,
    )
    assert [k for k, _ in seen] == [1, 2, 3]
    assert [r for _, r in seen] == results
    assert [r.effective_steps for r in results] == [7, 4, 2]
    assert [r.seed for r in results] == [7, 8, 9]
    # Pass k's input is pass k-1's output (the source for pass 1).
    inputs = [r.record["input_hash"] for r in results]
    assert inputs == [pixel_hash(request.image)] + [pixel_hash(r.image) for r in results[:-1]]
    for k, result in enumerate(results, 1):
        workflow = result.record["workflow"]
        assert workflow == {
            "type": "multipass",
            "schedule": [0.7, 0.4, 0.2],
            "index": k,
            "of": 3,
            "parent_index": k - 1,
        }
        assert result.record["strength"] == [0.7, 0.4, 0.2][k - 1]
        assert result.record["color_match"] is True
    assert [(p.index, p.status) for p in progress] == [
        (1, "running"),
        (1, "done"),
        (2, "running"),
        (2, "done"),
        (3, "running"),
        (3, "done"),
    ]
    assert progress[-1].eta == 0 and progress[1].eta is not None


def test_color_match_keeps_source_statistics_and_can_be_switched_off(engine, spec):
    request = _request()
    on = run_schedule(engine, request, spec, [0.8, 0.8])
    off = run_schedule(engine, request, spec, [0.8, 0.8], color_match=False)
    assert [r.record["color_match"] for r in on] == [True, True]
    assert [r.record["color_match"] for r in off] == [False, False]
    source_mean = np.asarray(request.image, np.float64).mean(axis=(0, 1))
    drift_on = np.abs(np.asarray(on[-1].image, np.float64).mean(axis=(0, 1)) - source_mean)
    drift_off = np.abs(np.asarray(off[-1].image, np.float64).mean(axis=(0, 1)) - source_mean)
    assert drift_on.max() < 4.0
    assert drift_on.sum() < drift_off.sum()


def test_color_match_with_a_mask_keeps_unmasked_pixels_identical(engine, spec):
    request = _request(mask=make_mask(64, 64), mask_blur=2)
    results = run_schedule(engine, request, spec, [0.6, 0.4])
    outside = np.asarray(blur_mask(make_mask(64, 64), 2)) == 0
    source = np.asarray(request.image)
    for result in results:
        assert np.array_equal(np.asarray(result.image)[outside], source[outside])


def test_zero_step_schedule_is_refused_before_any_model_loads(spec):
    fresh = Engine(previews=False)
    with pytest.raises(UserError, match=r"schedule entry 3 \(strength 0.05 × 10 steps\)"):
        run_schedule(fresh, _request(), spec, [0.5, 0.3, 0.05])
    with pytest.raises(UserError, match="schedule entry 2: strength must be between 0 and 1"):
        run_schedule(fresh, _request(), spec, [0.5, 1.5])
    with pytest.raises(UserError, match="at least one strength"):
        run_schedule(fresh, _request(), spec, [])
    assert fresh.models.loaded is None


def test_cancel_after_the_first_pass_keeps_it(engine, spec):
    token = CancelToken()
    seen = []

    def on_pass(index, result):
        seen.append(index)
        token.cancel()

    results = run_schedule(engine, _request(), spec, [0.5, 0.4, 0.3], on_pass=on_pass, cancel=token)
    assert seen == [1] and len(results) == 1
    assert results[0].record["workflow"]["index"] == 1


def test_cancel_during_the_second_pass_keeps_the_first(engine, spec):
    token = CancelToken()
    started = []

    def on_event(event):
        if isinstance(event, PassStarted):
            started.append(event)
            if len(started) == 2:
                token.cancel()

    results = run_schedule(
        engine, _request(), spec, [0.5, 0.5, 0.5], on_event=on_event, cancel=token
    )
    assert len(started) == 2 and len(results) == 1
