"""Runs engine passes on a worker thread and turns core events into Qt signals.

The engine (and with it torch and diffusers) is imported lazily on the worker thread, so the
window shows before torch loads. One engine serves the whole app, so a model stays loaded between
passes. Only numpy arrays and PIL images cross threads; QPixmaps are made by the GUI.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import PassCancelled, UserError
from core.events import (
    ModelLoading,
    PassEvent,
    PassResult,
    PassStarted,
    StepPreview,
)
from core.requests import PassRequest

_engine: Any = None
_engine_lock = threading.Lock()


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
    """One pass to run: the request plus the model reference and optional config folder."""

    request: PassRequest
    model: str
    model_config: str | None = None


@dataclass(frozen=True)
class WorkflowJob:
    """A multi-pass workflow to run: ``run(engine, spec, on_event, on_pass, on_progress, cancel)``
    calls a ``core.workflows`` function and returns its outcome (a list of results, a sweep, a
    report…). ``on_pass(index, result)`` reports each finished pass as soon as it exists."""

    name: str
    run: Callable[..., Any]
    model: str
    model_config: str | None = None


class _CancelFlag:
    """Stands in for a CancelToken until the engine module is imported."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class PassWorker(QObject):
    """Lives on its own QThread; ``submit`` queues a job, signals report its progress.

    Exactly one of ``finished``, ``cancelled`` or ``failed`` ends every submitted job.
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
        self._thread = QThread()
        self._thread.setObjectName("PassWorkerThread")
        self.moveToThread(self._thread)
        self._submitted.connect(self._run)
        self._lock = threading.Lock()
        self._token: Any = None
        self._busy = False
        self._ended = False
        self._thread.start()

    # -- called from the GUI thread ---------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, job: PassJob | WorkflowJob) -> None:
        """Queue ``job``; it runs after any job already running."""
        self._busy = True
        self._submitted.emit(job)

    def cancel(self) -> None:
        """Ask the running pass to stop; the engine checks between steps (thread-safe)."""
        with self._lock:
            if self._token is not None:
                self._token.cancel()

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel the running pass and stop the thread (call once, before the app quits)."""
        self.cancel()
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait(timeout_ms)

    # -- worker thread --------------------------------------------------------------------------
    def handle_event(self, event: PassEvent) -> None:
        """Forward one core event as the matching Qt signal (runs on the worker thread)."""
        match event:
            case StepPreview(step=step, total=total, elapsed=elapsed, image=image):
                self.preview.emit(step, total, elapsed, image)
            case PassStarted():
                self.started.emit(event)
            case ModelLoading(message=message):
                self.loading.emit(message)

    def _end(self, signal: Any, *args: Any) -> None:
        if self._ended:
            return
        self._ended = True
        self._busy = False
        signal.emit(*args)

    def _forward_step_event(self, event: Any) -> None:
        """Within a workflow only step-level events are forwarded; the outcome ends the job."""
        if isinstance(event, StepPreview | PassStarted | ModelLoading):
            self.handle_event(event)

    def _run_workflow(self, job: WorkflowJob, spec: Any) -> None:
        outcome = job.run(
            shared_engine(),
            spec,
            on_event=self._forward_step_event,
            on_pass=self.pass_done.emit,
            on_progress=self.progress.emit,
            cancel=self._token,
        )
        self._end(self.workflow_finished, outcome, bool(self._token.cancelled))

    @Slot(object)
    def _run(self, job: PassJob | WorkflowJob) -> None:
        self._ended = False
        with self._lock:
            self._token = _CancelFlag()
        try:
            # 1. Import the engine here, on the worker thread (torch loads now, not at startup).
            from core.engine import CancelToken
            from core.models import ModelSpec

            with self._lock:
                was_cancelled = self._token.cancelled
                self._token = CancelToken()
                if was_cancelled:
                    self._token.cancel()
            # 2. Run the pass (or workflow); events arrive through handle_event.
            spec = ModelSpec(job.model, config=job.model_config or None)
            if isinstance(job, WorkflowJob):
                self._run_workflow(job, spec)
                return
            result = shared_engine().run_pass(
                job.request, spec, on_event=self.handle_event, cancel=self._token
            )
            # 3. Report the result unless an event already did.
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
            self._busy = False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
