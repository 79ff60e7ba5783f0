"""Autosave: the document's session goes to this process's autosave (``core.project``'s
``AutosaveStore``) right after every pass and a few seconds after any other edit.

The session is captured on the GUI thread as a detached snapshot (records are shared, layers
copied) and encoded and written on a plain Python thread, so big sessions never block the GUI.
One save runs at a time; requests meanwhile merge into one more save. ``finish`` (a clean exit)
waits for a running save, then removes this process's autosave and the ones the user recovered
(the others stay for the next start).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack
from shiboken6 import isValid

from core.errors import UserError
from core.history import TreeChange, TreeEvent
from core.project import AutosaveStore, Session
from core.threads import run_in_background
from gui.document.document import Document
from gui.document.session_file import capture

DEBOUNCE_MS = 3000
"""An edit other than a pass is autosaved this long after the last edit of a burst."""
FINISH_WAIT_S = 30.0
"""A clean exit waits at most this long for an autosave still being written."""


class Autosaver(QObject):
    """Autosaves ``document`` into ``store`` (default: the user data folder) after every pass
    and a few seconds after any other edit (``undo_stack``'s)."""

    saved = Signal(object)  # Path: an autosave was written
    failed = Signal(str)  # one line: the first failure of a streak (the window shows it)
    _written = Signal(object, str)  # from the save thread: Path or None, error text

    def __init__(
        self,
        document: Document,
        undo_stack: QUndoStack,
        store: AutosaveStore | None = None,
        delay_ms: int = DEBOUNCE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self.store = store if store is not None else AutosaveStore()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save_now)
        self._soon = QTimer(self)  # a pass: saved once the code that filed it has returned
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.save_now)
        self._thread: threading.Thread | None = None
        self._again = False  # a save was asked for while one was running
        self._held = 0
        self._pending = False  # a save was asked for while held
        self._finished = False
        self._failing = False
        self._discard_after_save: list[Path] = []
        self._written.connect(self._on_written)
        unsubscribe = document.tree.subscribe(self._on_tree_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        undo_stack.indexChanged.connect(self.schedule)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.finish)

    @property
    def delay_ms(self) -> int:
        """How long after an edit other than a pass its autosave follows."""
        return self._timer.interval()

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        self._timer.setInterval(value)

    @property
    def idle(self) -> bool:
        """No save is running, waiting for the debounce, or asked for."""
        waiting = self._timer.isActive() or self._soon.isActive() or self._again
        return self._thread is None and not waiting

    # -- asking for saves ---------------------------------------------------------------------
    def schedule(self) -> None:
        """Autosave a few seconds from now (each call restarts the wait)."""
        if not self._finished and isValid(self._timer):
            self._timer.start()

    def save_now(self) -> None:
        """Start an autosave now (or right after the running one)."""
        if self._finished:
            return
        self._timer.stop()
        self._soon.stop()
        if self._held:
            self._pending = True
            return
        if self._document.tree.root is None:
            return
        if self._thread is not None:
            self._again = True
            return
        session = capture(self._document, autosave=True)
        self._thread = threading.Thread(
            target=self._write, args=(session,), name="autosave", daemon=True
        )
        self._thread.start()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Within the block (a session being replaced) saves wait; one follows if asked for."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self._pending = False
                self.save_now()

    def _on_tree_changed(self, event: TreeEvent) -> None:
        if event.kind is TreeChange.ADDED and not event.record.is_root:
            self._soon.start()  # a finished pass (and its selection): save at once
        else:
            self.schedule()

    # -- the save thread ----------------------------------------------------------------------
    def _write(self, session: Session) -> None:
        run_in_background()  # PNG encoding must not take the GUI thread's core
        try:
            path: Path | None = self.store.save(session)
            error = ""
        except UserError as exc:
            path, error = None, f"Autosave failed: {exc}"
        except Exception as exc:  # a bug must not end the thread silently
            traceback.print_exc(file=sys.stderr)
            path, error = None, f"Autosave failed ({type(exc).__name__}): {exc}"
        with contextlib.suppress(RuntimeError):  # the window is gone already
            self._written.emit(path, " ".join(error.split()))

    def _on_written(self, path: Path | None, error: str) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(1.0)  # it has emitted: only its return is left
        if path is not None:
            self._failing = False
            for done in self._discard_after_save:
                self._discard(done)
            self._discard_after_save.clear()
            self.saved.emit(path)
        elif not self._failing:
            self._failing = True
            self.failed.emit(error)
        if self._again:
            self._again = False
            self.save_now()

    # -- recovered autosaves and the end ------------------------------------------------------
    def discard_after_next_save(self, path: Path) -> None:
        """Delete a recovered autosave once this process's autosave holds its work."""
        self._discard_after_save.append(Path(path))

    def _discard(self, path: Path) -> None:
        with contextlib.suppress(UserError, OSError):
            self.store.discard(path)

    def close_window(self, busy: bool) -> None:
        """The window was closed: mid-pass, autosave what is there and finish once the worker has
        stopped (``shut_down``); otherwise finish now."""
        if busy:
            self.save_now()
        else:
            self.finish()

    def finish(self) -> None:
        """A clean exit: wait for a running save, then delete this process's autosave and the
        recovered ones (their work is saved or the user chose to discard it). No autosave happens
        after this."""
        if self._finished:
            return
        self._finished = True
        self._timer.stop()
        self._soon.stop()
        if self._thread is not None:
            self._thread.join(FINISH_WAIT_S)
        self.store.mark_clean_exit()
        for path in self._discard_after_save:  # recovered, and the user chose how to close
            self._discard(path)
