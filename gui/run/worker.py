"""Runs engine passes on a worker thread and turns core events into Qt signals.

The engine (and with it torch and diffusers) is imported lazily on the worker thread, so the
window shows before torch loads. One engine serves the whole app, so a model stays loaded between
passes. Only numpy arrays and PIL images cross threads; QPixmaps are made by the GUI.

Tickets, cancel, ``busy``, error text and shutdown are the shared :class:`Worker`'s
(gui.run.worker_base); this worker runs each job on a QThread of its own. ``warm_up`` loads a
model ahead of the first pass on a background thread (core.models.warmup): a pass that asks for
the same model meanwhile waits for that load instead of starting another; a pass on another
model cancels it.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import weakref
from typing import Any

from PySide6.QtCore import Qt, QThread, Signal, Slot

from core.errors import PassCancelled
from core.events import PassResult
from core.model_spec import ModelSpec
from core.requests import PassRequest
from core.threads import run_in_background
from gui.run.jobs import Job, JobCallbacks, WorkflowJob
from gui.run.worker_base import Ticket, Worker, one_line

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
    warmed = Signal(str)  # a warm-up ended: one line saying what it loaded, or why not

    def __init__(self) -> None:
        super().__init__()
        self._warming: tuple[ModelSpec, _Flag, threading.Thread] | None = None
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
        self.cancel_warm_up()
        self._thread.quit()

    # -- warming up (GUI thread) ----------------------------------------------------------------
    def submit(self, job: Job) -> None:
        self.cancel_warm_up(keep=job.spec)  # the same model: the pass waits for its load
        super().submit(job)

    @property
    def warming_up(self) -> bool:
        """Whether a warm-up is loading (until ``warmed`` is emitted)."""
        return self._warming is not None and not self._warming[1].done

    def warm_up(self, spec: ModelSpec, request: PassRequest | None = None) -> None:
        """Import the engine and load ``spec`` on a background thread, ahead of the first pass;
        ``warmed`` says how it went. A warm-up of another model is cancelled first. With
        ``request`` (the pass about to be asked for) a compiled model also runs the compile
        warm-up at its size (core.engine.compile_warm)."""
        self.cancel_warm_up(keep=spec)
        if self.warming_up:
            return  # this model is loading already
        flag = _Flag()
        thread = threading.Thread(
            target=self._warm, args=(spec, flag, request), name="warm-up", daemon=True
        )
        self._warming = (spec, flag, thread)
        thread.start()

    def cancel_warm_up(self, keep: ModelSpec | None = None) -> None:
        """Stop a warm-up after its current load phase, unless it loads ``keep``."""
        if self._warming is not None and self._warming[0] != keep:
            self._warming[1].cancel()

    def wait_warm_up(self, timeout_s: float) -> None:
        """Block up to ``timeout_s`` for a warm-up to end (the app is quitting)."""
        if self._warming is not None:
            self._warming[2].join(timeout_s)

    def _warm(self, spec: ModelSpec, flag: _Flag, request: PassRequest | None) -> None:
        run_in_background()  # the GUI thread gets a core first
        try:
            _import_engine()
            from core.engine import CancelToken
            from core.engine.compile_warm import warm_compiled
            from core.models.warmup import warm_up

            flag.token = CancelToken()
            if flag.cancelled:
                flag.token.cancel()
            engine = shared_engine()
            outcome = warm_up(engine.models, spec, flag)
            if request is not None and outcome.startswith("warmed up") and not flag.cancelled:
                try:
                    compiled = warm_compiled(engine, request, spec, flag.token)
                except PassCancelled:
                    compiled = "compile warm-up cancelled"
                except Exception as exc:  # the first Generate pays the compile instead
                    compiled = f"compile warm-up failed: {one_line(exc)}"
                outcome += f"; {compiled}" if compiled else ""
        except Exception as exc:  # a warm-up only saves time: nothing it meets stops the app
            outcome = f"warm-up failed: {one_line(exc)}"
        flag.done = True  # before ``warmed``: its slots see the warm-up over
        with contextlib.suppress(RuntimeError):  # the worker is gone already
            self.warmed.emit(outcome)

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
            _import_engine()
            from core.engine import CancelToken

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


class _Flag:
    """A warm-up's cancel flag (core.hashing.Cancelled: read between load phases; ``token``
    stops its compile pass) and whether it is over."""

    cancelled = False
    done = False
    token: Any = None  # a core.engine.CancelToken once the engine is imported

    def cancel(self) -> None:
        self.cancelled = True
        if self.token is not None:
            self.token.cancel()


def _import_engine() -> None:
    """Import the engine off the GUI thread, gently: torch's library loaded without the
    interpreter lock, no long collector pauses, library notes to the log file; then leave a
    core to the GUI thread."""
    from core.models.collector import loading_quietly
    from core.models.torch_preload import preload_torch_library

    preload_torch_library()  # its dlopen without the GIL
    with loading_quietly():  # no long GC pauses while torch imports (the GUI stays smooth)
        from core.library_logs import quiet_libraries

        quiet_libraries()  # before the engine's imports: their notes go to the log file
        import core.engine  # noqa: F401

    _leave_a_core_to_the_gui()


_threads_set = False


def _leave_a_core_to_the_gui() -> None:
    """Once: torch's CPU threads leave one core to the GUI thread (core.models.device)."""
    global _threads_set
    if not _threads_set:
        from core.models.device import apply_gui_cpu_threads

        apply_gui_cpu_threads()
        _threads_set = True
