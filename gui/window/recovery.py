"""Crash recovery: once the window is first shown, offer the autosaves that Img2Img Studio
processes left when they did not close normally (crash, kill, power loss).

The offer is a non-blocking dialog (``recoveryDialog``, opened with ``open()``). Recover puts the
chosen autosave's session in the window, history included, marked unsaved; the file is deleted
once this process's own autosave holds the work. Not now keeps the autosaves until this process
closes normally, then deletes them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
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
from core.project import load_project
from gui.qt_helpers import named, plain, plain_tooltip
from gui.window.session_io import UI_PROJECT
from gui.window.settings import APP_NAME

if TYPE_CHECKING:
    from gui.window.autosave import Autosaver
    from gui.window.main_window import MainWindow


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

    def __init__(self, parent: QWidget, paths: list[Path]) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryDialog")
        self.setWindowTitle("Recover unsaved work")
        self.paths = list(paths)
        text = plain(QLabel(f"{APP_NAME} did not close normally. Its work was autosaved:"))
        self.list = named(QListWidget(), "recoveryList")
        for path in self.paths:
            item = QListWidgetItem(describe(path))
            item.setToolTip(plain_tooltip(str(path)))
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        note = plain(
            QLabel(
                "Recover opens it here in place of the current session. Not now keeps it until "
                f"{APP_NAME} next closes normally; then it is deleted."
            )
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.recover_button = buttons.addButton("Recover", QDialogButtonBox.ButtonRole.AcceptRole)
        self.later_button = buttons.addButton("Not now", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(self.accept)
        column = QVBoxLayout(self)
        column.addWidget(text)
        column.addWidget(self.list)
        column.addWidget(note)
        column.addWidget(buttons)

    def chosen(self) -> Path:
        return self.paths[max(0, self.list.currentRow())]


class RecoveryOffer(QObject):
    """Checks for recoverable autosaves when ``window`` is first shown and offers them."""

    def __init__(self, window: MainWindow, autosaver: Autosaver) -> None:
        super().__init__(window)
        self._window = window
        self._autosaver = autosaver
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
            self._window.show_error(f"Cannot look for autosaves: {exc.strerror or exc}")
            return None
        if not paths:
            return None
        dialog = RecoveryDialog(self._window, paths)
        dialog.accepted.connect(lambda: self._on_answer(dialog, True))
        dialog.rejected.connect(lambda: self._on_answer(dialog, False))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_answer(self, dialog: RecoveryDialog, recover: bool) -> None:
        chosen = dialog.chosen()
        if recover and self.recover(chosen):
            self._autosaver.discard_at_exit([p for p in dialog.paths if p != chosen])
        else:
            self._autosaver.discard_at_exit(dialog.paths)
        dialog.deleteLater()
        self.dialog = None

    def recover(self, path: Path) -> bool:
        """Put an autosave's session in the window (marked unsaved); errors go to the banner."""
        window = self._window
        if window.busy:
            window.show_error("A pass is running; recover the autosave after it.")
            return False
        try:
            session = load_project(path)
            if not window.project.confirm_discard():
                return False
            project = session.ui.get(UI_PROJECT)
            project_path = Path(project) if isinstance(project, str) and project else None
            window.project.restore(session, project_path, clean=False)
        except ProjectError as exc:
            window.show_error(f"Cannot recover the autosave: {exc}")
            return False
        self._autosaver.discard_after_next_save(path)
        self._autosaver.save_now()
        window.statusBar().showMessage(f"Recovered the work autosaved in {path.name}", 10000)
        return True
