"""Crash recovery: once the window is first shown, offer the autosaves that Img2Img Studio
processes left when they did not close normally (crash, kill, power loss).

The offer is a non-blocking dialog (``recoveryDialog``, opened with ``open()``). Recover puts the
chosen autosave's session in the window, history included, marked unsaved; that file is deleted
once this process's own autosave holds the work. Nothing else is ever deleted without the user
asking: the autosaves not recovered (Not now, a cancelled or failed recovery, the others of the
list) are kept and offered again at the next start; Delete removes the chosen one after asking;
one that cannot be read is renamed aside in the autosave folder, and the banner says where.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ProjectError
from core.project import AutosaveStore
from gui.document.session_file import UI_PROJECT
from gui.qt_helpers import ask, named, plain, plain_tooltip, warn
from gui.window.autosave import Autosaver
from gui.window.project_actions import ProjectActions
from gui.window.settings import APP_NAME


def describe(path: Path) -> str:
    """One line for the list: when the autosave was written and its size."""
    try:
        info = path.stat()
    except OSError:
        return path.name
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.st_mtime))
    return f"Autosaved {when} · {info.st_size / 1e6:.1f} MB"


class RecoveryDialog(QDialog):
    """Lists recoverable autosaves (newest first, the first one chosen)."""

    def __init__(self, parent: QWidget, paths: list[Path], store: AutosaveStore) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryDialog")
        self.setWindowTitle("Recover unsaved work")
        self.paths = list(paths)
        self._store = store
        text = plain(QLabel(f"{APP_NAME} did not close normally. Its work was autosaved:"))
        self.list = named(QListWidget(), "recoveryList")
        for path in self.paths:
            item = QListWidgetItem(describe(path))
            item.setToolTip(plain_tooltip(str(path)))
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        note = named(
            plain(
                QLabel(
                    "Recover opens the chosen autosave here in place of the current session. "
                    "The autosaves you do not recover are kept in "
                    f"{store.folder} and offered again at the next start; Delete removes the "
                    "chosen one. One that cannot be read is renamed aside in that folder "
                    "(…unreadable-date-time.i2i), never deleted."
                )
            ),
            "recoveryNote",
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.recover_button = buttons.addButton("Recover", QDialogButtonBox.ButtonRole.AcceptRole)
        self.later_button = buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        self.delete_button = buttons.addButton(
            "Delete…", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.delete_button.clicked.connect(self.delete_chosen)
        self.list.itemDoubleClicked.connect(self.accept)
        column = QVBoxLayout(self)
        column.addWidget(text)
        column.addWidget(self.list)
        column.addWidget(note)
        column.addWidget(buttons)

    def chosen(self) -> Path:
        return self.paths[max(0, self.list.currentRow())]

    def delete_chosen(self) -> bool:
        """Delete the chosen autosave after asking; the dialog closes when none is left."""
        path = self.chosen()
        question = f"Delete this autosave and the work in it for good?\n{describe(path)}\n{path}"
        if not ask(self, "Delete autosave", question):
            return False
        try:
            self._store.discard(path)
        except (ProjectError, OSError) as exc:
            warn(self, "Delete autosave", f"Cannot delete {path}: {exc}")
            return False
        row = self.paths.index(path)
        del self.paths[row]
        self.list.takeItem(row)
        if not self.paths:
            self.reject()
        return True


class RecoveryOffer(QObject):
    """Checks for recoverable autosaves when ``window`` is first shown and offers them; a
    recovered one goes into the document through ``project`` (which asks about unsaved work)."""

    error = Signal(str)  # a one-line error (the banner shows it)
    message = Signal(str, int)  # status-bar text, timeout in ms

    def __init__(
        self,
        window: QWidget,
        autosaver: Autosaver,
        project: ProjectActions,
        busy: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._autosaver = autosaver
        self._project = project
        self._busy = busy
        self._checked = False
        self.dialog: RecoveryDialog | None = None
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self._window and event.type() == QEvent.Type.Show and not self._checked:
            self._checked = True
            # Once is enough: a Python filter on the window costs every event of it the GIL.
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self.check)
        return False

    def check(self) -> RecoveryDialog | None:
        """Open the recovery dialog if autosaves of dead processes exist; returns it."""
        try:
            paths = self._autosaver.store.recoverable()
        except OSError as exc:
            self.error.emit(f"Cannot look for autosaves: {exc.strerror or exc}")
            return None
        if not paths:
            return None
        dialog = RecoveryDialog(self._window, paths, self._autosaver.store)
        dialog.accepted.connect(lambda: self._on_answer(dialog, True))
        dialog.rejected.connect(lambda: self._on_answer(dialog, False))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_answer(self, dialog: RecoveryDialog, recover: bool) -> None:
        # Not now, a cancelled or failed recovery and the autosaves not chosen: all are kept
        # where they are and offered again at the next start.
        if recover and dialog.paths:
            self.recover(dialog.chosen())
        dialog.deleteLater()
        self.dialog = None

    def recover(self, path: Path) -> bool:
        """Put an autosave's session in the window (marked unsaved); errors go to the banner.

        The autosave is deleted only once this process's own autosave holds its work; when it
        cannot be read it is kept, renamed aside if its content is damaged.
        """
        if self._busy():
            self.error.emit("A pass is running; the autosave is kept: recover it after the pass.")
            return False
        try:
            session = self._autosaver.store.load(path)
            if not self._project.confirm_discard():
                return False
            project = session.ui.get(UI_PROJECT)
            project_path = Path(project) if isinstance(project, str) and project else None
            self._project.restore(session, project_path, clean=False)
        except ProjectError as exc:
            self.error.emit(f"Cannot recover the autosave: {exc}")
            return False
        self._autosaver.discard_after_next_save(path)
        self._autosaver.save_now()
        self.message.emit(f"Recovered the work autosaved in {path.name}", 10000)
        return True
