"""The one worker interface (gui.run.worker_base.Worker): the local PassWorker and the
RemoteWorker behave alike through it — one ending signal per job, busy until it reaches the
GUI thread, a cancel that reaches queued jobs, one-line errors, previews, and shutdown."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QObject, Slot

from core.errors import PassCancelled, UserError
from core.events import PassResult, StepPreview
from core.model_spec import ModelSpec
from core.requests import PassRequest
from gui.run import worker as worker_module
from gui.run.jobs import PassJob, WorkflowJob
from gui.run.remote_worker import WORKFLOWS_RUN_LOCALLY, RemoteWorker
from gui.run.worker import PassWorker
from gui.run.worker_base import Worker
from gui.run.workflow_jobs import Variations
from tests.tiny_models.images import make_image

TIMEOUT_MS = 30_000
# What the fake backend does with a pass: (request, on_event, cancel) -> PassResult or raise.
Behaviour = Callable[[PassRequest, Callable[..., None], Any], PassResult]


def _result(request: PassRequest) -> PassResult:
    return PassResult(request.image.copy(), request, request.seed or 0, 2, 0.01, "fake", "")


def _job(seed: int = 1) -> PassJob:
    request = PassRequest(make_image(32, 32), prompt="x", steps=2, seed=seed)
    return PassJob(request, ModelSpec("the-model", device="cpu"))


class _Engine:
    """Stands in for the local engine: ``run_pass`` does what the test asks."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.references: list[str] = []

    def run_pass(self, request: PassRequest, spec: ModelSpec, on_event: Any, cancel: Any) -> Any:
        self.references.append(spec.reference)
        return self.behaviour(request, on_event, cancel)


class _Client:
    """Stands in for core.remote.client.WorkerClient: the same behaviour, over "the network"."""

    token = None

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.references: list[str] = []

    async def run_pass(self, model: str, request: PassRequest, on_event: Any, cancel: Any) -> Any:
        self.references.append(model)
        return self.behaviour(request, on_event, cancel)

    async def models(self) -> list[dict[str, str]]:
        return [{"id": "the-model"}]

    async def close(self) -> None:
        return None


@pytest.fixture(params=["local", "remote"])
def make_worker(request, qtbot, monkeypatch):
    """Build the worker under test around a fake backend doing ``behaviour``; returns
    (worker, backend). Every worker made is shut down afterwards."""
    made: list[Worker] = []

    def make(behaviour: Behaviour) -> tuple[Worker, Any]:
        worker: Worker
        if request.param == "local":
            backend: Any = _Engine(behaviour)
            monkeypatch.setattr(worker_module, "shared_engine", lambda: backend)
            worker = PassWorker()
        else:
            backend = _Client(behaviour)

            async def client_for(_self: RemoteWorker, _target: Any) -> _Client:
                return backend

            monkeypatch.setattr(RemoteWorker, "_client_for", client_for)
            worker = RemoteWorker()
            worker.configure("http://127.0.0.1:9", "token")
        made.append(worker)
        return worker, backend

    yield make
    for worker in made:
        worker.shutdown()
        qtbot.waitUntil(lambda w=worker: not w.running, timeout=TIMEOUT_MS)


class _Recorder(QObject):
    """Receives the worker's signals on the GUI thread (queued), as the runner does."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker
        self.events: list[tuple] = []
        worker.finished.connect(self.on_finished)
        worker.cancelled.connect(self.on_cancelled)
        worker.failed.connect(self.on_failed)
        worker.preview.connect(self.on_preview)

    @Slot(object)
    def on_finished(self, result: Any) -> None:
        self.events.append(("finished", result, self.worker.busy))

    @Slot()
    def on_cancelled(self) -> None:
        self.events.append(("cancelled", self.worker.busy))

    @Slot(str)
    def on_failed(self, message: str) -> None:
        self.events.append(("failed", message, self.worker.busy))

    @Slot(int, int, float, object)
    def on_preview(self, step: int, total: int, _elapsed: float, _image: Any) -> None:
        self.events.append(("preview", step, total))


_recorders: list[_Recorder] = []


def _record(worker: Worker) -> list[tuple]:
    recorder = _Recorder(worker)
    _recorders.append(recorder)  # kept alive while the test runs
    return recorder.events


def test_a_pass_streams_previews_and_ends_once_with_its_result(qtbot, make_worker):
    def two_steps(request, on_event, cancel):
        on_event(StepPreview(1, 2, 0.1, None))
        on_event(StepPreview(2, 2, 0.2, None))
        return _result(request)

    worker, backend = make_worker(two_steps)
    events = _record(worker)
    worker.submit(_job(seed=5))
    assert worker.busy  # from submit, on the GUI thread
    qtbot.waitUntil(lambda: any(e[0] == "finished" for e in events), timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert [e[:3] for e in events[:2]] == [("preview", 1, 2), ("preview", 2, 2)]
    kind, result, busy_then = events[-1]
    assert kind == "finished" and result.seed == 5 and busy_then is False
    assert backend.references == ["the-model"]  # the job's ModelSpec names the model
    assert not worker.busy


def test_cancel_reaches_a_job_still_waiting_in_the_queue(qtbot, make_worker):
    entered, release = threading.Event(), threading.Event()
    seeds: list[int] = []

    def blocking(request, on_event, cancel):
        seeds.append(request.seed)
        entered.set()
        release.wait(10)
        if cancel.cancelled:
            raise PassCancelled
        return _result(request)

    worker, _backend = make_worker(blocking)
    events = _record(worker)
    worker.submit(_job(seed=1))
    qtbot.waitUntil(entered.is_set, timeout=TIMEOUT_MS)
    worker.submit(_job(seed=2))
    worker.cancel()
    release.set()
    qtbot.waitUntil(lambda: len(events) == 2, timeout=TIMEOUT_MS)
    assert [e[0] for e in events] == ["cancelled", "cancelled"]
    assert seeds == [1]  # the queued job never reached the backend
    assert not worker.busy


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UserError("no such model: x\nsecond line"), "no such model: x"),
        (RuntimeError("boom\nsecond line"), "Unexpected error (RuntimeError): boom"),
    ],
)
def test_errors_end_the_job_with_one_line(qtbot, make_worker, capfd, error, message):
    def failing(request, on_event, cancel):
        raise error

    worker, _backend = make_worker(failing)
    events = _record(worker)
    worker.submit(_job())
    qtbot.waitUntil(lambda: bool(events), timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert events == [("failed", message, False)]
    assert ("Traceback" in capfd.readouterr().err) is (not isinstance(error, UserError))


def test_shutdown_returns_at_once_and_stopped_follows(qtbot, make_worker):
    worker, _backend = make_worker(lambda request, on_event, cancel: _result(request))
    events = _record(worker)
    worker.submit(_job())
    qtbot.waitUntil(lambda: bool(events), timeout=TIMEOUT_MS)
    assert worker.running
    with qtbot.waitSignal(worker.stopped, timeout=TIMEOUT_MS):
        worker.shutdown()
    assert not worker.running


def test_a_workflow_runs_on_the_local_worker_and_is_refused_remotely(qtbot, make_worker):
    worker, _backend = make_worker(lambda request, on_event, cancel: _result(request))
    outcomes: list[Any] = []
    events = _record(worker)
    worker.workflow_finished.connect(lambda outcome, cancelled: outcomes.append(outcome))
    job = WorkflowJob(_job().request, _job().spec, Variations(2, group="g"))
    if isinstance(worker, RemoteWorker):
        worker.submit(job)
        qtbot.waitUntil(lambda: bool(events), timeout=TIMEOUT_MS)
        assert events == [("failed", WORKFLOWS_RUN_LOCALLY, False)]
        return
    done: list[int] = []
    worker.pass_done.connect(lambda index, result: done.append(index))
    worker.submit(job)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=TIMEOUT_MS)
    qtbot.wait(50)
    assert done == [1, 2] and len(outcomes[0]) == 2 and not events
