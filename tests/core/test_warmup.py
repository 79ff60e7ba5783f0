"""Warm-up before the first pass (core.models.warmup): the model loads once, ahead of the pass
that then finds it loaded; a pass started during a background warm-up waits for it instead of
loading again; cancelling keeps no model; failures come back as one line, never raised."""

from __future__ import annotations

import threading

import pytest

from core.engine import Engine
from core.events import ModelLoading
from core.models import ModelSpec
from core.models.warmup import CANCELLED, start_warm_up, warm_up
from tests.core import family_helpers as fh


@pytest.fixture
def engine():
    return Engine(previews=False)


def _count_loads(engine) -> list[int]:
    """Count the manager's real loads (a cached model is not one)."""
    count = [0]
    load_new = engine.models._load_new

    def counted(*args, **kwargs):
        count[0] += 1
        return load_new(*args, **kwargs)

    engine.models._load_new = counted
    return count


def test_after_warm_up_the_first_pass_loads_nothing(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    loads = _count_loads(engine)
    outcome = warm_up(engine.models, spec)
    assert outcome.startswith("warmed up: ") and loads[0] == 1
    result, events = fh.run(engine, spec)
    assert loads[0] == 1  # the pass used the warmed-up model
    assert not [e for e in events if isinstance(e, ModelLoading)]
    assert result.image.size == (fh.SIZE, fh.SIZE)


def test_a_pass_during_a_background_warm_up_waits_for_it_and_loads_once(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    loads = _count_loads(engine)
    finished = []
    handle = start_warm_up(engine.models, spec, on_done=finished.append)
    fh.run(engine, spec)  # right away, from this thread
    assert handle.wait(60).startswith("warmed up: ")
    assert loads[0] == 1 and finished == [handle.outcome]
    assert handle._thread.name == "warm-up" and handle._thread is not threading.current_thread()


def test_a_cancelled_warm_up_keeps_no_model_and_the_pass_loads_it(engine, tiny_model_dir):
    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    handle = start_warm_up(engine.models, spec)
    handle.cancel()
    assert handle.wait(60) in (CANCELLED, f"warmed up: {tiny_model_dir.name} "
                               "(loaded as the warm-up was cancelled)")  # fmt: skip
    if handle.outcome == CANCELLED:
        assert engine.models.loaded is None
    result, _ = fh.run(engine, spec)
    assert result.image.size == (fh.SIZE, fh.SIZE)


def test_cancelled_before_it_starts_it_does_nothing(engine, tiny_model_dir):
    class Cancelled:
        cancelled = True

    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    loads = _count_loads(engine)
    assert warm_up(engine.models, spec, Cancelled()) == CANCELLED
    assert loads[0] == 0 and engine.models.loaded is None


def test_imports_only_without_a_model(engine):
    assert warm_up(engine.models) == "warmed up: torch and diffusers imported"
    assert engine.models.loaded is None


def test_failures_are_one_line_never_raised(engine, tmp_path, caplog):
    missing = ModelSpec(str(tmp_path / "nope"), device="cpu")
    outcome = warm_up(engine.models, missing)
    assert outcome.startswith("warm-up failed: no such model") and "\n" not in outcome

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    engine.models._load_new = broken
    spec = ModelSpec(str(tmp_path), device="cpu")
    (tmp_path / "model_index.json").write_text("{}")
    assert warm_up(engine.models, spec) == "warm-up failed: RuntimeError: disk on fire"
    handle = start_warm_up(engine.models, spec, on_done=lambda outcome: 1 / 0)
    assert handle.wait(30) == "warm-up failed: RuntimeError: disk on fire"
    assert handle.done


def test_the_engine_itself_can_be_made_on_the_warm_up_thread(tiny_model_dir):
    """``models`` as a callable (``lambda: shared_engine().models``): called on the thread."""
    made = []

    def make_engine_models():
        made.append(threading.current_thread().name)
        return Engine(previews=False).models

    spec = ModelSpec(str(tiny_model_dir), device="cpu")
    handle = start_warm_up(make_engine_models, spec)
    assert handle.wait(120).startswith("warmed up: ") and made == ["warm-up"]
