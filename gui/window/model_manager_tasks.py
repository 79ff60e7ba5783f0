"""Slow model-manager work (downloads, folder scans) on its own thread, never the GUI thread.

``BackgroundTask(work)`` runs ``work(report, cancel)`` on a QThread; what it reports, returns or
raises reaches the GUI thread as signals. A running task keeps itself alive until its thread has
finished, so closing the dialog mid-download can never destroy a running thread.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from core.errors import PassCancelled, UserError

_running: set[BackgroundTask] = set()


class CancelFlag:
    """Set from the GUI thread, read by the work between chunks (``.cancelled``)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()


Work = Callable[[Callable[[Any], None], CancelFlag], Any]


class BackgroundTask(QThread):
    """Runs ``work(report, cancel)`` once. Exactly one of ``succeeded`` (the return value),
    ``failed`` (a one-line message) or ``cancelled`` ends it; ``reported`` carries progress."""

    reported = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, work: Work) -> None:
        super().__init__()
        self._work = work
        self.flag = CancelFlag()
        self.finished.connect(self._on_thread_finished)

    def start_work(self) -> None:
        """Start the thread (the task stays alive until it has finished)."""
        _running.add(self)
        self.start()

    def cancel(self) -> None:
        self.flag.cancel()

    def run(self) -> None:  # the task's thread
        try:
            result = self._work(self.reported.emit, self.flag)
        except PassCancelled:
            self.cancelled.emit()
            return
        except UserError as exc:
            self.failed.emit(_one_line(exc))
            return
        except Exception as exc:  # never let a bug take the app down
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(f"Unexpected error ({type(exc).__name__}): {_one_line(exc)}")
            return
        if self.flag.cancelled:
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)

    def _on_thread_finished(self) -> None:
        _running.discard(self)
        self.deleteLater()


def cancel_all(wait_ms: int = 0) -> None:
    """Cancel every running task; ``wait_ms`` > 0 also waits that long for each (on quit)."""
    for task in list(_running):
        task.cancel()
        if wait_ms > 0:
            task.wait(wait_ms)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
