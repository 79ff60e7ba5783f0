"""What every worker shares: the signals, the queue of tickets, busy, errors and shutdown.

The local :class:`gui.run.worker.PassWorker` and the :class:`gui.run.remote_worker.RemoteWorker`
are both a :class:`Worker`, so the runner, live mode and candidates use either without knowing
which. A subclass says where a ticket runs (``_dispatch``) and how its thread stops
(``_stop_thread``, ``_wait_thread``); it runs each ticket between ``_begin`` and
``_close_ticket`` and ends it with exactly one ``_end`` (``finished``, ``cancelled``, ``failed``
or ``workflow_finished``).

Threads: the GUI thread owns ``busy`` (set by ``submit``, cleared when the ending signal reaches
it, through a helper that lives on the GUI thread); each submitted job carries its own cancel
flag, so a cancel reaches jobs still queued; the running job's token is shared under a lock.
``shutdown`` never blocks: the worker stays alive until its thread has finished and then says
so with ``stopped``.
"""

from __future__ import annotations

import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance, Slot

from core.errors import UserError
from core.events import ModelLoading, PassEvent, PassResult, PassStarted, StepPreview
from gui.qt_images import HISTORY_THUMBNAIL_SIDE, prepare_qimages
from gui.run.jobs import Job
from gui.run.preview_mailbox import PreviewMailbox, refresh_rate

_stopping: set[Worker] = set()  # shut down, thread still finishing: kept alive until then


@dataclass(eq=False)
class Ticket:
    """A submitted job and its cancel flag (set under the worker's lock, from any thread)."""

    job: Job
    cancelled: bool = False


class _GuiSide(QObject):
    """Lives on the GUI thread: counts jobs until their ending signal arrives there, and hears
    when the worker's thread has finished (its signals reach the GUI thread even then)."""

    stopped = Signal()

    def __init__(self, worker: Worker) -> None:
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


class Worker(QObject):
    """Runs submitted jobs one at a time, off the GUI thread, and reports through signals.

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
    _thread_ended = Signal()  # emitted on the worker's thread as it ends

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._token: Any = None  # the running job's CancelToken (under the lock)
        self._tickets: list[Ticket] = []  # submitted, not ended yet (under the lock)
        self._ended = False  # the running ticket has had its ending signal (worker side)
        self._shut_down = False
        # Made here, on the GUI thread, and connected first: ``busy`` is already False in any
        # other slot of an ending signal.
        self._gui = _GuiSide(self)
        for ending in (self.finished, self.cancelled, self.failed, self.workflow_finished):
            ending.connect(self._gui.job_ended)
        self._thread_ended.connect(self._gui.thread_finished)
        # Step previews for display: converted to QImage here, newest only, ≤ the screen's rate.
        self.previews = PreviewMailbox(refresh_rate())

    # -- called from the GUI thread ---------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True from ``submit`` until the job's ending signal has reached the GUI thread."""
        return self._gui.outstanding > 0

    @property
    def stopped(self) -> SignalInstance:
        """After ``shutdown``: emitted on the GUI thread once the worker's thread has finished."""
        return self._gui.stopped

    @property
    def running(self) -> bool:
        """Whether the worker's thread still runs (after ``shutdown``: until it has finished)."""
        return not self._gui.thread_done

    def submit(self, job: Job) -> None:
        """Queue ``job``; it runs after any job already running."""
        ticket = self._ticket(job)
        self.previews.reset()
        with self._lock:
            self._tickets.append(ticket)
        self._gui.outstanding += 1
        self._dispatch(ticket)

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
                self._stop_thread()
        if wait_ms > 0 and not self._gui.thread_done:
            self._wait_thread(wait_ms)

    # -- for subclasses -------------------------------------------------------------------------
    def _ticket(self, job: Job) -> Ticket:
        return Ticket(job)

    def _dispatch(self, ticket: Ticket) -> None:
        """Hand ``ticket`` to the worker's thread (called on the GUI thread)."""
        raise NotImplementedError

    def _stop_thread(self) -> None:
        """Let the worker's thread finish; ``_thread_ended`` is emitted when it has."""
        raise NotImplementedError

    def _wait_thread(self, wait_ms: int) -> None:
        """Block up to ``wait_ms`` for the worker's thread to finish."""
        raise NotImplementedError

    def _begin(self, ticket: Ticket, token: Any) -> None:
        """The ticket starts running under ``token`` (cancelled already if the ticket was)."""
        self._ended = False
        with self._lock:
            self._token = token
            if ticket.cancelled:
                token.cancel()

    def _was_cancelled(self, ticket: Ticket) -> bool:
        with self._lock:
            return ticket.cancelled

    def _close_ticket(self, ticket: Ticket) -> None:
        with self._lock:
            self._token = None
            self._tickets.remove(ticket)

    def handle_event(self, event: PassEvent) -> None:
        """Forward one core event as the matching Qt signal, on the thread that produced it."""
        match event:
            case StepPreview(step=step, total=total, elapsed=elapsed, image=image):
                # The display's copy first: it reaches the GUI thread before ``preview`` does.
                self.previews.offer(step, total, elapsed, image)
                self.preview.emit(step, total, elapsed, image)
            case PassStarted():
                self.started.emit(event)
            case ModelLoading(message=message):
                self.loading.emit(message)

    def _pass_done(self, index: int, result: PassResult) -> None:
        prepare_result(result)
        self.pass_done.emit(index, result)

    def _end(self, signal: SignalInstance, *args: Any) -> None:
        """End the running ticket with ``signal`` (once: a second ending is dropped)."""
        if self._ended:
            return
        self._ended = True
        for arg in args:  # the window shows it at once: its QImage and thumbnail are made here
            prepare_result(arg)
        signal.emit(*args)

    def _end_with_error(self, exc: BaseException) -> None:
        """End the running ticket as failed: a user error's first line, anything else as an
        unexpected error (its traceback to stderr)."""
        if isinstance(exc, UserError):
            self._end(self.failed, one_line(exc))
            return
        traceback.print_exception(exc, file=sys.stderr)
        self._end(self.failed, f"Unexpected error ({type(exc).__name__}): {one_line(exc)}")


def prepare_result(result: Any) -> None:
    """Make a finished pass's QImage and history thumbnail on this (worker) thread, so showing
    the result costs the GUI thread only a QPixmap upload."""
    if isinstance(result, PassResult):
        prepare_qimages(result.image, (HISTORY_THUMBNAIL_SIDE,))


def one_line(exc: BaseException) -> str:
    """An error's first line (its type's name when it has no text)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
