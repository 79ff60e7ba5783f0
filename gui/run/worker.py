"""Runs engine passes on a worker thread and turns core events into Qt signals.

The engine (and with it torch and diffusers) is imported lazily on the worker thread, so the
window shows before torch loads. One engine serves the whole app, so a model stays loaded between
passes. Only numpy arrays and PIL images cross threads; QPixmaps are made by the GUI.

Threads: the GUI thread owns ``busy`` (set by ``submit``, cleared when the ending signal reaches
it); each submitted job carries its own cancel flag, so a cancel reaches jobs still queued; the
running job's token is shared under a lock. ``shutdown`` never blocks: the worker stays alive
until its thread has finished and then says so with ``stopped``.
"""

from __future__ import annotations

import atexit
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, SignalInstance, Slot

from core.errors import PassCancelled, UserError
from core.events import (
    ModelLoading,
    PassEvent,
    PassResult,
    PassStarted,
    StepPreview,
)
from core.requests import PassRequest
from core.threads import run_in_background
from gui.qt_images import HISTORY_THUMBNAIL_SIDE, prepare_qimages
from gui.run.preview_mailbox import PreviewMailbox, refresh_rate

_engine: Any = None
_engine_lock = threading.Lock()
_stopping: set[PassWorker] = set()  # shut down, thread still finishing: kept alive until then
_alive: weakref.WeakSet[PassWorker] = weakref.WeakSet()  # every worker not yet collected
EXIT_WAIT_MS = 3000
LOADING_MODEL = "Loading model…"


@atexit.register
def _stop_workers_at_exit() -> None:
    """A worker whose owner never shut it down (a test, a widget dropped without closing) is
    stopped before the interpreter goes: Qt aborts the process when a running QThread is
    destroyed."""
    for worker in list(_alive):
        worker.shutdown(wait_ms=EXIT_WAIT_MS)


# While a pass runs, the worker's Python (diffusers' step loop, imports) holds the interpreter
# lock in slices of the switch interval (5 ms by default), and every Python slot of the GUI
# thread waits up to one slice: a shorter interval keeps repaints and input prompt.
GUI_SWITCH_INTERVAL_S = 0.0002


def shared_engine() -> Any:
    """The app-wide engine, created on first use (imports torch: call off the GUI thread)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from core.engine import Engine

            _engine = Engine()
        return _engine


@dataclass(frozen=True)
class PassJob:
    """One pass to run: the request plus the model reference, optional config folder, device
    (auto | cpu | cuda | mps) and dtype (auto | fp32 | fp16 | bf16)."""

    request: PassRequest
    model: str
    model_config: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    memory: str = "auto"
    quantize: str = "none"  # core.requests.QUANTIZE_MODES
    speed: str = "off"  # core.requests.SPEED_MODES


@dataclass(frozen=True)
class WorkflowJob:
    """A multi-pass workflow to run: ``run(engine, spec, on_event, on_pass, on_progress, cancel)``
    calls a ``core.workflows`` function and returns its outcome (a list of results, a sweep, a
    report…). ``on_pass(index, result)`` reports each finished pass as soon as it exists."""

    name: str
    run: Callable[..., Any]
    model: str
    model_config: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    memory: str = "auto"
    quantize: str = "none"  # core.requests.QUANTIZE_MODES
    speed: str = "off"  # core.requests.SPEED_MODES


@dataclass(eq=False)
class _Ticket:
    """A submitted job and its cancel flag (set under the worker's lock, from any thread)."""

    job: PassJob | WorkflowJob
    cancelled: bool = False


class _GuiSide(QObject):
    """Lives on the GUI thread: counts jobs until their ending signal arrives there, and hears
    when the worker thread has finished (its signals reach the GUI thread even then)."""

    stopped = Signal()

    def __init__(self, worker: PassWorker) -> None:
        super().__init__()
        self.worker = worker
        self.outstanding = 0
        self.thread_done = False

    @Slot()
    def job_ended(self, *_args: Any) -> None:
        self.outstanding = max(0, self.outstanding - 1)

    @Slot()
    def thread_finished(self) -> None:
        self.thread_done = True
        _stopping.discard(self.worker)
        self.stopped.emit()


class PassWorker(QObject):
    """Lives on its own QThread; ``submit`` queues a job, signals report its progress.

    Exactly one of ``finished``, ``cancelled`` or ``failed`` (``workflow_finished`` for a
    workflow that ran) ends every submitted job.
    """

    loading = Signal(str)
    started = Signal(object)  # core.events.PassStarted
    preview = Signal(int, int, float, object)  # step, total, elapsed, H×W×3 uint8 array or None
    finished = Signal(object)  # core.events.PassResult
    cancelled = Signal()
    failed = Signal(str)
    # Workflows: each finished pass, progress per unit, then the outcome (and whether cancelled).
    pass_done = Signal(int, object)  # index (1-based), core.events.PassResult
    progress = Signal(object)  # core.workflows.common.WorkflowProgress
    workflow_finished = Signal(object, bool)  # outcome, cancelled
    _submitted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))
        self._thread = QThread()
        self._thread.setObjectName("PassWorkerThread")
        self.moveToThread(self._thread)
        self._submitted.connect(self._run)
        self._lock = threading.Lock()
        self._token: Any = None  # the running job's CancelToken (under the lock)
        self._tickets: list[_Ticket] = []  # submitted, not ended yet (under the lock)
        self._ended = False  # worker thread only
        self._shut_down = False
        # Connected first, so ``busy`` is already False in any other slot of an ending signal.
        self._gui = _GuiSide(self)
        # Step previews for display: converted to QImage here, newest only, ≤ the screen's rate.
        self.previews = PreviewMailbox(refresh_rate())
        for ending in (self.finished, self.cancelled, self.failed, self.workflow_finished):
            ending.connect(self._gui.job_ended)
        self._thread.finished.connect(self._gui.thread_finished)
        # Every worker thread (Generate's, live mode's): the GUI thread gets a core first when
        # both want one. ``started`` is emitted on the new thread; direct: it runs there.
        self._thread.started.connect(run_in_background, Qt.ConnectionType.DirectConnection)
        self._thread.start()
        _alive.add(self)

    # -- called from the GUI thread ---------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True from ``submit`` until the job's ending signal has reached the GUI thread."""
        return self._gui.outstanding > 0

    @property
    def stopped(self) -> SignalInstance:
        """After ``shutdown``: emitted on the GUI thread once the worker thread has finished."""
        return self._gui.stopped

    @property
    def running(self) -> bool:
        """Whether the worker thread still runs (after ``shutdown``: until it has finished)."""
        return not self._gui.thread_done

    def submit(self, job: PassJob | WorkflowJob) -> None:
        """Queue ``job``; it runs after any job already running."""
        ticket = _Ticket(job)
        self.previews.reset()
        with self._lock:
            self._tickets.append(ticket)
        self._gui.outstanding += 1
        self._submitted.emit(ticket)

    def cancel(self) -> None:
        """Cancel the running job and every queued one (thread-safe). The engine checks between
        steps and chunks; a queued job ends with ``cancelled`` without running."""
        with self._lock:
            for ticket in self._tickets:
                ticket.cancelled = True
            if self._token is not None:
                self._token.cancel()

    def shutdown(self, wait_ms: int = 0) -> None:
        """Cancel every job and stop the thread without blocking (call once, when closing).

        ``stopped`` follows once the thread has finished; the worker stays alive until then.
        ``wait_ms`` > 0 also waits up to that long (only when the app quits right away).
        """
        if not self._shut_down:
            self._shut_down = True
            self.cancel()
            if self._gui.thread_done:
                self.stopped.emit()
            else:
                _stopping.add(self)
                self._thread.quit()
        if wait_ms > 0 and not self._gui.thread_done:
            self._thread.wait(wait_ms)

    # -- worker thread --------------------------------------------------------------------------
    def handle_event(self, event: PassEvent) -> None:
        """Forward one core event as the matching Qt signal (runs on the worker thread)."""
        forward_event(self, event)

    def _end(self, signal: Any, *args: Any) -> None:
        if self._ended:
            return
        self._ended = True
        for arg in args:  # the window shows it at once: its QImage and thumbnail are made here
            _prepare_result(arg)
        signal.emit(*args)

    def _pass_done(self, index: int, result: Any) -> None:
        _prepare_result(result)
        self.pass_done.emit(index, result)

    def _forward_step_event(self, event: Any) -> None:
        """Within a workflow only step-level events are forwarded; the outcome ends the job."""
        if isinstance(event, StepPreview | PassStarted | ModelLoading):
            self.handle_event(event)

    def _run_workflow(self, job: WorkflowJob, spec: Any) -> None:
        outcome = job.run(
            shared_engine(),
            spec,
            on_event=self._forward_step_event,
            on_pass=self._pass_done,
            on_progress=self.progress.emit,
            cancel=self._token,
        )
        self._end(self.workflow_finished, outcome, bool(self._token.cancelled))

    @Slot(object)
    def _run(self, ticket: _Ticket) -> None:
        self._ended = False
        job = ticket.job
        try:
            # 1. A job cancelled while it waited in the queue never starts.
            with self._lock:
                if ticket.cancelled:
                    raise PassCancelled
            # 2. Import the engine here, on the worker thread (torch loads now, not at startup).
            if _engine is None:  # the first job: seconds of imports before the model loads
                self.loading.emit(LOADING_MODEL)
            from core.models.collector import loading_quietly
            from core.models.torch_preload import preload_torch_library

            preload_torch_library()  # its dlopen without the GIL
            with loading_quietly():  # no long GC pauses while torch imports (the GUI stays smooth)
                from core.library_logs import quiet_libraries

                quiet_libraries()  # before the engine's imports: their notes go to the log file
                from core.engine import CancelToken
                from core.models import ModelSpec

            _leave_a_core_to_the_gui()

            with self._lock:
                self._token = CancelToken()
                if ticket.cancelled:  # cancelled while the engine was being imported
                    self._token.cancel()
            # 3. Run the pass (or workflow); events arrive through handle_event.
            spec = ModelSpec(
                job.model,
                config=job.model_config or None,
                device=job.device,
                dtype=job.dtype,
                memory=job.memory,
                quantize=job.quantize,
                speed=job.speed,
            )
            if isinstance(job, WorkflowJob):
                self._run_workflow(job, spec)
                return
            result = shared_engine().run_pass(
                job.request, spec, on_event=self.handle_event, cancel=self._token
            )
            # 4. Report the result unless an event already did.
            if isinstance(result, PassResult):
                self._end(self.finished, result)
            else:
                self._end(self.failed, "the engine returned no result")
        except PassCancelled:
            self._end(self.cancelled)
        except UserError as exc:
            self._end(self.failed, _one_line(exc))
        except Exception as exc:  # never let an engine bug take the app down
            traceback.print_exc(file=sys.stderr)
            self._end(self.failed, f"Unexpected error ({type(exc).__name__}): {_one_line(exc)}")
        finally:
            with self._lock:
                self._token = None
                self._tickets.remove(ticket)


_threads_set = False


def _leave_a_core_to_the_gui() -> None:
    """Once: torch's CPU threads leave one core to the GUI thread (core.models.device)."""
    global _threads_set
    if not _threads_set:
        from core.models.device import apply_gui_cpu_threads

        apply_gui_cpu_threads()
        _threads_set = True


def forward_event(worker: Any, event: PassEvent) -> None:
    """Emit ``event`` as the matching signal of ``worker`` (a PassWorker or RemoteWorker: the
    same signals), on the thread that produced it."""
    match event:
        case StepPreview(step=step, total=total, elapsed=elapsed, image=image):
            # The display's copy first: it reaches the GUI thread before ``preview`` does.
            worker.previews.offer(step, total, elapsed, image)
            worker.preview.emit(step, total, elapsed, image)
        case PassStarted():
            worker.started.emit(event)
        case ModelLoading(message=message):
            worker.loading.emit(message)


def _prepare_result(result: Any) -> None:
    """Make a finished pass's QImage and history thumbnail on this (worker) thread, so showing
    the result costs the GUI thread only a QPixmap upload."""
    if isinstance(result, PassResult):
        prepare_qimages(result.image, (HISTORY_THUMBNAIL_SIDE,))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
