"""The pass worker: runs the engine off the GUI thread and reports through Qt signals."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, QThread, Slot

from core.errors import PassCancelled
from core.events import PassResult
from core.model_spec import ModelSpec
from core.requests import PassRequest
from gui.run import worker as worker_module
from gui.run.jobs import PassJob
from gui.run.worker import PassWorker
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 120_000


class Recorder(QObject):
    """Receives worker signals on the GUI thread (queued), like the main window does."""

    def __init__(self, worker: PassWorker) -> None:
        super().__init__()
        self.events: list[tuple] = []
        self.threads: set = set()
        self.worker: PassWorker | None = None
        self.busy_when_ended: list[bool] = []
        worker.loading.connect(self.on_loading)
        worker.started.connect(self.on_started)
        worker.preview.connect(self.on_preview)
        worker.finished.connect(self.on_finished)
        worker.cancelled.connect(self.on_cancelled)
        worker.failed.connect(self.on_failed)

    def _add(self, *event) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(event)
        if event[0] in ("finished", "cancelled", "failed") and self.worker is not None:
            self.busy_when_ended.append(self.worker.busy)

    def watch_busy(self, worker: PassWorker) -> None:
        """Record ``worker.busy`` as each ending signal is delivered."""
        self.worker = worker

    @Slot(str)
    def on_loading(self, message):
        self._add("loading", message)

    @Slot(object)
    def on_started(self, event):
        self._add("started", event)

    @Slot(int, int, float, object)
    def on_preview(self, step, total, elapsed, image):
        self._add("preview", step, total, elapsed, image)

    @Slot(object)
    def on_finished(self, result):
        self._add("finished", result)

    @Slot()
    def on_cancelled(self):
        self._add("cancelled")

    @Slot(str)
    def on_failed(self, message):
        self._add("failed", message)

    def kinds(self) -> list[str]:
        return [event[0] for event in self.events]

    def ended(self) -> bool:
        return any(k in ("finished", "cancelled", "failed") for k in self.kinds())


@pytest.fixture
def worker(qtbot):
    pass_worker = PassWorker()
    yield pass_worker
    pass_worker.shutdown()


def _job(model, steps=4, strength=0.5, seed=3) -> PassJob:
    request = PassRequest(make_image(64, 64), prompt="x", steps=steps, strength=strength, seed=seed)
    return PassJob(request, ModelSpec(str(model)))


def test_pass_delivers_started_previews_and_result_on_the_gui_thread(qtbot, worker, tiny_model_dir):
    recorder = Recorder(worker)
    worker.submit(_job(tiny_model_dir))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)

    kinds = recorder.kinds()
    assert kinds[-1] == "finished", recorder.events
    assert kinds.count("finished") == 1
    previews = [e for e in recorder.events if e[0] == "preview"]
    assert [p[1] for p in previews] == [1, 2]  # 4 steps × 0.5 = 2 steps run
    assert all(isinstance(p[4], np.ndarray) and p[4].dtype == np.uint8 for p in previews)
    started = next(e[1] for e in recorder.events if e[0] == "started")
    assert (started.effective_steps, started.total_steps) == (2, 4)
    result = recorder.events[-1][1]
    assert isinstance(result, PassResult)
    assert result.image.size == (64, 64) and result.seed == 3
    assert recorder.threads == {QThread.currentThread()}  # slots ran on the GUI thread
    assert not worker.busy


def test_one_engine_serves_every_worker(qtbot, worker, tiny_model_dir):
    recorder = Recorder(worker)
    worker.submit(_job(tiny_model_dir))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    engine = worker_module.shared_engine()
    other = PassWorker()
    try:
        other_recorder = Recorder(other)
        other.submit(_job(tiny_model_dir, seed=4))
        qtbot.waitUntil(other_recorder.ended, timeout=ENGINE_TIMEOUT)
    finally:
        other.shutdown()
    assert worker_module.shared_engine() is engine
    assert "loading" not in other_recorder.kinds()  # the model stayed loaded


def test_cancel_stops_within_a_step_without_a_result(qtbot, worker, tiny_model_dir):
    recorder = Recorder(worker)
    worker.preview.connect(lambda *args: worker.cancel())  # cancel as soon as a step finished
    worker.submit(_job(tiny_model_dir, steps=200, strength=1.0))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    kinds = recorder.kinds()
    assert kinds[-1] == "cancelled"
    assert "finished" not in kinds
    assert kinds.count("preview") <= 3


def test_bad_model_path_fails_with_one_line_and_worker_keeps_working(
    qtbot, worker, tiny_model_dir, tmp_path
):
    recorder = Recorder(worker)
    worker.submit(_job(tmp_path / "no-such-model"))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    assert recorder.kinds()[-1] == "failed"
    message = recorder.events[-1][1]
    assert message and "\n" not in message and "Traceback" not in message

    recorder.events.clear()
    worker.submit(_job(tiny_model_dir))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    assert recorder.kinds()[-1] == "finished"


def test_unexpected_exception_becomes_failed_and_traceback_goes_to_stderr(
    qtbot, worker, monkeypatch, capfd
):
    class Broken:
        def run_pass(self, *args, **kwargs):
            raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(worker_module, "shared_engine", lambda: Broken())
    recorder = Recorder(worker)
    worker.submit(_job("anything"))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    assert recorder.events[-1] == ("failed", "Unexpected error (RuntimeError): boom")
    assert "Traceback" in capfd.readouterr().err


def test_events_dispatch_through_handle_event(qtbot, worker, monkeypatch):
    """Step events become signals; an engine that returns no result still ends the job once."""
    from core.events import StepPreview

    class EventsOnly:
        def run_pass(self, request, spec, on_event, cancel):
            on_event(StepPreview(1, 2, 0.1, None))
            return None

    monkeypatch.setattr(worker_module, "shared_engine", lambda: EventsOnly())
    recorder = Recorder(worker)
    worker.submit(_job("anything"))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    qtbot.wait(50)
    assert recorder.events == [
        ("preview", 1, 2, 0.1, None),
        ("failed", "the engine returned no result"),
    ]


def test_engine_runs_off_the_gui_thread(qtbot, worker, monkeypatch):
    seen = []

    class Probe:
        def run_pass(self, *args, **kwargs):
            seen.append(threading.current_thread() is threading.main_thread())
            raise RuntimeError("stop")

    monkeypatch.setattr(worker_module, "shared_engine", lambda: Probe())
    recorder = Recorder(worker)
    worker.submit(_job("anything"))
    qtbot.waitUntil(recorder.ended, timeout=ENGINE_TIMEOUT)
    assert seen == [False]


def _result(request: PassRequest) -> PassResult:
    return PassResult(request.image.copy(), request, request.seed or 0, 2, 0.01, "fake", "")


def test_cancel_reaches_a_job_still_waiting_in_the_queue(qtbot, worker, monkeypatch):
    """Cancel after submit, while the worker is busy with a first job: the queued job ends
    cancelled and never reaches the engine with a live token."""
    entered, release = threading.Event(), threading.Event()
    calls: list[tuple[int, bool]] = []

    class Blocking:
        def run_pass(self, request, spec, on_event, cancel):
            calls.append((request.seed, cancel.cancelled))
            if request.seed == 1:
                entered.set()
                release.wait(30)
            if cancel.cancelled:
                raise PassCancelled
            return _result(request)

    monkeypatch.setattr(worker_module, "shared_engine", lambda: Blocking())
    recorder = Recorder(worker)
    worker.submit(_job("anything", seed=1))
    qtbot.waitUntil(entered.is_set, timeout=ENGINE_TIMEOUT)
    worker.submit(_job("anything", seed=2))
    worker.cancel()
    release.set()
    qtbot.waitUntil(lambda: recorder.kinds().count("cancelled") == 2, timeout=10_000)
    qtbot.wait(50)
    assert recorder.kinds() == ["cancelled", "cancelled"]
    assert all(cancelled for seed, cancelled in calls if seed == 2)  # not called, or cancelled
    assert not worker.busy


def test_busy_belongs_to_the_gui_thread_until_the_ending_signal_arrives(qtbot, worker, monkeypatch):
    class Quick:
        def run_pass(self, request, spec, on_event, cancel):
            return _result(request)

    monkeypatch.setattr(worker_module, "shared_engine", lambda: Quick())
    emitted = threading.Event()
    worker.finished.connect(lambda *_: emitted.set(), Qt.ConnectionType.DirectConnection)
    recorder = Recorder(worker)
    recorder.watch_busy(worker)
    assert not worker.busy
    worker.submit(_job("anything"))
    assert worker.busy
    # The worker thread has emitted ``finished``; the GUI thread has not received it yet.
    assert emitted.wait(ENGINE_TIMEOUT / 1000)
    time.sleep(0.05)
    assert worker.busy
    qtbot.waitUntil(recorder.ended, timeout=10_000)
    assert recorder.busy_when_ended == [False]
    assert not worker.busy


def test_shutdown_returns_at_once_while_a_job_ignores_cancel(qtbot, monkeypatch):
    entered = threading.Event()

    class Stubborn:  # like a download or model load that checks cancel only between chunks
        def run_pass(self, request, spec, on_event, cancel):
            entered.set()
            time.sleep(1.0)
            raise PassCancelled

    monkeypatch.setattr(worker_module, "shared_engine", lambda: Stubborn())
    pass_worker = PassWorker()
    recorder = Recorder(pass_worker)
    pass_worker.submit(_job("anything"))
    qtbot.waitUntil(entered.is_set, timeout=ENGINE_TIMEOUT)
    started = time.perf_counter()
    pass_worker.shutdown()
    assert time.perf_counter() - started < 0.3  # no blocking wait on the GUI thread
    assert pass_worker.running  # the job is still finishing: no events were processed since
    with qtbot.waitSignal(pass_worker.stopped, timeout=10_000):
        pass
    assert not pass_worker.running
    assert recorder.kinds() == ["cancelled"]
    del pass_worker, recorder
    gc.collect()  # the finished thread may go: no "QThread: Destroyed while thread is running"


def test_gui_modules_do_not_import_torch():
    code = (
        "import sys; import gui.window.app, gui.window.main_window, gui.window.workflow_menu, "
        "gui.window.file_actions, gui.run.worker, gui.run.runner, gui.run.workflow_controller, "
        "gui.history.history_panel, gui.params.generation_panel, gui.canvas.toolbars; "
        "bad = [m for m in ('torch', 'diffusers', 'core.engine', 'core.models') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
