"""Runs engine passes on a worker thread and turns core events into Qt signals.

The engine (and with it torch and diffusers) is imported lazily on the worker thread, so the
window shows before torch loads. One engine serves the whole app, so a model stays loaded between
passes. Only numpy arrays and PIL images cross threads; QPixmaps are made by the GUI.

Tickets, cancel, ``busy``, error text and shutdown are the shared :class:`Worker`'s
(gui.run.worker_base); this worker runs each job on a QThread of its own.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from typing import Any

from PySide6.QtCore import Qt, QThread, Signal, Slot

from core.errors import PassCancelled
from core.events import PassResult
from core.threads import run_in_background
from gui.run.jobs import JobCallbacks, WorkflowJob
from gui.run.worker_base import Ticket, Worker

_engine: Any = None
_engine_lock = threading.Lock()
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


class PassWorker(Worker):
    """Lives on its own QThread; ``submit`` queues a job, the signals of :class:`Worker` report
    its progress."""

    _submitted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))
        self._thread = QThread()
        self._thread.setObjectName("PassWorkerThread")
        self.moveToThread(self._thread)
        self._submitted.connect(self._run)
        self._thread.finished.connect(self._gui.thread_finished)
        # Every worker thread (Generate's, live mode's): the GUI thread gets a core first when
        # both want one. ``started`` is emitted on the new thread; direct: it runs there.
        self._thread.started.connect(run_in_background, Qt.ConnectionType.DirectConnection)
        self._thread.start()
        _alive.add(self)

    def _dispatch(self, ticket: Ticket) -> None:
        self._submitted.emit(ticket)

    def _stop_thread(self) -> None:
        self._thread.quit()

    def _wait_thread(self, wait_ms: int) -> None:
        self._thread.wait(wait_ms)

    # -- worker thread --------------------------------------------------------------------------
    @Slot(object)
    def _run(self, ticket: Ticket) -> None:
        self._ended = False
        job = ticket.job
        try:
            # 1. A job cancelled while it waited in the queue never starts.
            if self._was_cancelled(ticket):
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

            _leave_a_core_to_the_gui()
            token = CancelToken()
            self._begin(ticket, token)
            # 3. Run the pass or workflow; events arrive through handle_event.
            calls = JobCallbacks(self.handle_event, self._pass_done, self.progress.emit, token)
            outcome = job.run(shared_engine(), calls)
            # 4. Report the outcome unless an event already did.
            if isinstance(job, WorkflowJob):
                self._end(self.workflow_finished, outcome, bool(token.cancelled))
            elif isinstance(outcome, PassResult):
                self._end(self.finished, outcome)
            else:
                self._end(self.failed, "the engine returned no result")
        except PassCancelled:
            self._end(self.cancelled)
        except Exception as exc:  # never let an engine bug take the app down
            self._end_with_error(exc)
        finally:
            self._close_ticket(ticket)


_threads_set = False


def _leave_a_core_to_the_gui() -> None:
    """Once: torch's CPU threads leave one core to the GUI thread (core.models.device)."""
    global _threads_set
    if not _threads_set:
        from core.models.device import apply_gui_cpu_threads

        apply_gui_cpu_threads()
        _threads_set = True
