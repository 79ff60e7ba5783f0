"""Faults during a job reach the window as one line and leave it usable: out of memory, an
unexpected exception, a cancel while the model loads. A fake engine stands in for the model."""

from __future__ import annotations

import threading
import time

import pytest

from core.engine.memory import MemoryWatch, OutOfMemory
from core.errors import PassCancelled
from core.events import ModelLoading, PassResult, PassStarted
from gui.run import worker as worker_module
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 30_000


class FaultyEngine:
    """Fails the first pass with ``error`` (or, with ``block_in_load``, loads until cancelled);
    every later pass succeeds."""

    def __init__(self, error: BaseException | None = None, block_in_load: bool = False) -> None:
        self.error, self.block_in_load = error, block_in_load
        self.loading = threading.Event()
        self.calls = 0

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.calls += 1
        emit = on_event or (lambda event: None)
        if self.calls == 1 and self.block_in_load:
            emit(ModelLoading(spec.reference, "Loading fake-model…"))
            self.loading.set()
            deadline = time.monotonic() + 20
            while not cancel.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)  # from_pretrained cannot stop midway: checked after it
            raise PassCancelled
        if self.calls == 1 and self.error is not None:
            raise self.error
        emit(PassStarted(2, 4, 96, 64, 1))
        return PassResult(request.image.copy(), request, 1, 2, 0.01, "fake", "")


@pytest.fixture
def window(empty_window):
    empty_window.set_root_image(make_image(96, 64))
    empty_window.state.update(model="fake-org/fake-model", steps=4, strength=0.5)
    return empty_window


def _install(monkeypatch, engine: FaultyEngine) -> FaultyEngine:
    monkeypatch.setattr(worker_module, "shared_engine", lambda: engine)
    return engine


def _wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)


def _assert_usable_and_generates(qtbot, window) -> None:
    assert window.generate_button.isEnabled() and not window.cancel_button.isEnabled()
    assert len(window.tree) == 1
    assert window.generate()
    _wait_idle(qtbot, window)
    assert len(window.tree) == 2
    assert not window.error_banner.isVisible()


def _out_of_memory() -> OutOfMemory:
    watch = MemoryWatch()
    watch.reached("cuda", "torch.float32", (1024, 1024))
    return OutOfMemory(watch.message())


def test_out_of_memory_reaches_the_error_banner_and_the_next_pass_works(window, qtbot, monkeypatch):
    error = _out_of_memory()
    _install(monkeypatch, FaultyEngine(error))
    assert window.generate()
    _wait_idle(qtbot, window)
    assert window.error_banner.isVisible()
    assert window.error_label.text() == str(error)
    assert window.error_label.text().startswith("out of memory at 1024×1024 on cuda: try a")
    assert window.progress_bar.format() == "Failed"
    _assert_usable_and_generates(qtbot, window)


def test_an_unexpected_exception_is_shown_and_the_window_stays_usable(window, qtbot, monkeypatch):
    _install(monkeypatch, FaultyEngine(KeyError("vae")))
    assert window.generate()
    _wait_idle(qtbot, window)
    assert window.error_banner.isVisible()
    assert window.error_label.text() == "Unexpected error (KeyError): 'vae'"
    _assert_usable_and_generates(qtbot, window)


def test_cancel_while_the_model_loads_says_cancelled_and_the_window_stays_usable(
    window, qtbot, monkeypatch
):
    engine = _install(monkeypatch, FaultyEngine(block_in_load=True))
    assert window.generate()
    qtbot.waitUntil(engine.loading.is_set, timeout=ENGINE_TIMEOUT)
    qtbot.waitUntil(lambda: "Loading" in window.progress_bar.format(), timeout=ENGINE_TIMEOUT)
    window.cancel_button.click()
    _wait_idle(qtbot, window)
    assert window.progress_bar.format() == "Cancelled"
    assert window.statusBar().currentMessage().startswith("Cancelled")
    assert not window.error_banner.isVisible()
    _assert_usable_and_generates(qtbot, window)
