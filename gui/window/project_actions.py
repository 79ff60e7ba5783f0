"""Project files in the window: File › Open project…, Open recent project, Save project, Save
project as…; the title with the project's name and the unsaved marker; asking before unsaved
work would be lost.

Ctrl+S is never ambiguous: while a project is open it saves the project, otherwise it keeps its
meaning "Save result as PNG…". Unsaved means: the undo stack is not at its clean state (mask and
strength-map edits, applied passes), a pass was added, renamed or deleted, or another pass became
the input since the project was last saved or opened. A new picture starts a new, unsaved-free
session without a project.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QWidget
from shiboken6 import isValid

from core.errors import ProjectError
from core.history import PassRecord
from core.project import PROJECT_SUFFIX, Session, load_project, save_project
from gui.qt_helpers import plain_tooltip
from gui.window.session_io import UI_DOCUMENT, UI_PROJECT, capture_session, restore_session
from gui.window.settings import APP_NAME

if TYPE_CHECKING:
    from gui.window.main_window import MainWindow

MAX_RECENT_PROJECTS = 10
PROJECT_FILTER = f"Img2Img Studio project (*{PROJECT_SUFFIX})"
BUSY = "A pass is running; wait for it or cancel it first."


def ask_save_changes(parent: QWidget, name: str) -> str:
    """Ask whether to save unsaved work first: "save", "discard" or "cancel" (tests replace it)."""
    button = QMessageBox.StandardButton
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Unsaved changes",
        f"Save the changes to {name} first?",
        button.Save | button.Discard | button.Cancel,
        parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(button.Save)
    answer = box.exec()
    return {button.Save: "save", button.Discard: "discard"}.get(button(answer), "cancel")


@contextlib.contextmanager
def _wait_cursor() -> Iterator[None]:
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()


class ProjectActions(QObject):
    """The window's project file (``path``), its actions and the unsaved state."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.path: Path | None = None
        self.document = ""  # the picture's name while no project is open
        self._changed = False  # passes added, renamed or deleted since clean
        self._clean_current: str | None = None  # the input pass when clean
        self._restoring = False
        self.open_action = self._action("Open project…", "Ctrl+Shift+O", self.open_dialog)
        self.save_action = self._action("Save project", "", self.save_current)
        self.save_as_action = self._action("Save project as…", "Ctrl+Shift+S", self.save_as_dialog)
        self.recent_menu = QMenu("Open recent project", window)
        self.recent_menu.setObjectName("recentProjectsMenu")
        self.recent_menu.aboutToShow.connect(self.refresh_recent_menu)
        window.tree.subscribe(self._on_tree_changed)
        window.undo_stack.cleanChanged.connect(self._update_modified)
        self._update_shortcuts()
        self._update_title()

    def _action(self, text: str, key: str, slot: Callable[[], Any]) -> QAction:
        action = QAction(text, self._window)
        action.setObjectName(text.rstrip("…").title().replace(" ", "") + "Action")
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        self._window.addAction(action)
        return action

    def install_menu(self, file_menu: QMenu) -> None:
        """Put the project entries into the File menu, next to the picture ones."""
        files = self._window.files
        file_menu.insertAction(files.paste_action, self.open_action)
        file_menu.insertMenu(files.paste_action, self.recent_menu)
        file_menu.insertAction(files.save_action, self.save_action)
        file_menu.insertAction(files.save_action, self.save_as_action)

    # -- unsaved state and title --------------------------------------------------------------
    @property
    def is_modified(self) -> bool:
        """Whether there is work that is not in the project file (or in no file at all)."""
        window = self._window
        moved = window.tree.current_id != self._clean_current
        return self._changed or moved or not window.undo_stack.isClean()

    def mark_clean(self) -> None:
        """The session is what the project file holds (just saved or opened)."""
        self._window.undo_stack.setClean()
        self._changed = False
        self._clean_current = self._window.tree.current_id
        self._update_modified()

    def _on_tree_changed(self, event: str, record: PassRecord) -> None:
        if self._restoring:
            return
        if event == "added" and record.is_root:  # a new session from a picture
            self.path = None
            self._changed = False
            self._clean_current = record.id
            self._update_shortcuts()
            self._update_title()
        elif event != "selected":
            self._changed = True
        self._update_modified()

    def set_document(self, document: str) -> None:
        """Name the picture a new session started from ("" keeps the name shown)."""
        if document:
            self.document = document
        self._update_title()

    def _update_modified(self, *_args: object) -> None:
        if isValid(self._window):  # the undo stack still signals while the window is destroyed
            self._window.setWindowModified(self.is_modified)

    def _update_title(self) -> None:
        name = self.path.stem if self.path is not None else self.document
        self._window.setWindowTitle(f"{name}[*] — {APP_NAME}" if name else f"{APP_NAME}[*]")
        self._update_modified()

    def _update_shortcuts(self) -> None:
        save_png = self._window.files.save_action
        save_key = QKeySequence(QKeySequence.StandardKey.Save)
        self.save_action.setShortcut(save_key if self.path is not None else QKeySequence())
        save_png.setShortcut(QKeySequence() if self.path is not None else save_key)

    def ui_state(self, autosave: bool = False) -> dict[str, Any]:
        """What a saved session keeps of this window beyond the canvas and parameters."""
        state: dict[str, Any] = {UI_DOCUMENT: self.document}
        if autosave:
            state[UI_PROJECT] = str(self.path) if self.path is not None else None
        return state

    # -- saving -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> bool:
        """Save the session as a project file (``.i2i`` is added when missing); errors go to the
        banner and leave an existing file as it was."""
        window = self._window
        if window.tree.root is None:
            window.show_error("Nothing to save yet: open an image first.")
            return False
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        try:
            with _wait_cursor():
                save_project(path, capture_session(window, **self.ui_state()))
        except ProjectError as exc:
            window.show_error(str(exc))
            return False
        self._set_path(path)
        self.mark_clean()
        window.autosaver.schedule()
        window.statusBar().showMessage(f"Saved project {path}", 5000)
        return True

    def save_current(self) -> bool:
        """Save into the open project, or ask where (no project yet)."""
        return self.save(self.path) if self.path is not None else self.save_as_dialog()

    def save_as_dialog(self) -> bool:
        window = self._window
        if window.tree.root is None:
            window.show_error("Nothing to save yet: open an image first.")
            return False
        if self.path is not None:
            start = str(self.path)
        else:
            stem = Path(self.document).stem or "untitled"
            start = str(Path(window.settings.last_folder) / f"{stem}{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(window, "Save project", start, PROJECT_FILTER)
        return self.save(path) if path else False

    # -- opening ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        folder = str(self.path.parent) if self.path else self._window.settings.last_folder
        filters = f"{PROJECT_FILTER};;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self._window, "Open project", folder, filters)
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Open a project file in place of the session (after asking about unsaved work). A file
        that cannot be read changes nothing; the banner says why."""
        window = self._window
        if window.busy:
            window.show_error(BUSY)
            return False
        if not self.confirm_discard():
            return False
        path = Path(path)
        try:
            with _wait_cursor():
                self.restore(load_project(path), path)
        except ProjectError as exc:
            window.show_error(str(exc))
            return False
        window.statusBar().showMessage(f"Opened project {path}", 5000)
        return True

    def restore(self, session: Session, path: Path | None, clean: bool = True) -> None:
        """Put ``session`` in the window as the work of project ``path`` (None: no project);
        ``clean`` False keeps it marked unsaved (a recovered autosave). Raises ProjectError
        before changing anything when the session has no picture."""
        window = self._window
        with window.autosaver.hold():
            self._restoring = True
            try:
                restore_session(window, session)
            finally:
                self._restoring = False
        document = session.ui.get(UI_DOCUMENT)
        self.document = document if isinstance(document, str) else ""
        self._set_path(path)
        self.mark_clean()
        if not clean:
            self._changed = True
            self._update_modified()

    def confirm_discard(self) -> bool:
        """Ask about unsaved work (Save / Discard / Cancel); True when it may be replaced."""
        if not self.is_modified:
            return True
        name = self.path.name if self.path is not None else "this session"
        answer = ask_save_changes(self._window, name)
        if answer == "save":
            return self.save_current()
        return answer == "discard"

    # -- recent projects ----------------------------------------------------------------------
    def _set_path(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            settings = self._window.settings
            entry = str(path.resolve())
            recent = [p for p in settings.recent_projects if p != entry]
            settings.recent_projects = [entry, *recent][:MAX_RECENT_PROJECTS]
            settings.last_folder = str(path.parent)
            settings.save()
        self._update_shortcuts()
        self._update_title()

    def refresh_recent_menu(self) -> None:
        """Fill "Open recent project" from the settings (newest first)."""
        menu = self.recent_menu
        menu.clear()
        recent = self._window.settings.recent_projects
        for entry in recent:
            action = menu.addAction(Path(entry).name.replace("&", "&&"))
            action.setToolTip(plain_tooltip(entry))
            action.setStatusTip(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open(p))
        if not recent:
            menu.addAction("No recent projects").setEnabled(False)
            return
        menu.addSeparator()
        menu.addAction("Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self._window.settings.recent_projects = []
        self._window.settings.save()
