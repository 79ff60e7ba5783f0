"""Project files in the window: File › Open project…, Open recent project, Save project, Save
project as…; the title with the project's name and the unsaved marker; asking before unsaved
work would be lost.

Ctrl+S is never ambiguous: while a project is open it saves the project, otherwise it keeps its
meaning "Save result as PNG…". Unsaved means: the undo stack is not at its clean state (mask and
strength-map edits, applied passes), a pass was added, renamed or deleted, or another pass became
the input since the project was last saved or opened (``Document.unsaved``). A new picture
starts a new, unsaved-free session without a project. The project file and the document's name
are the document's (``project_path``, ``name``); this module only asks and shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QWidget
from shiboken6 import isValid

from core.errors import ProjectError
from core.project import PROJECT_SUFFIX, Session, load_project, save_project
from gui.document.document import Document
from gui.document.session_file import capture, restore
from gui.qt_helpers import plain_tooltip
from gui.window.autosave import Autosaver
from gui.window.settings import APP_NAME, Settings


class PictureActions(Protocol):
    """The picture's File-menu actions the project entries sit beside (gui.window.file_actions)."""

    paste_action: QAction
    save_action: QAction


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
    """The document's project file: its actions, the title and the unsaved marker of ``window``
    (any top-level widget), asking before unsaved work would be lost."""

    error = Signal(str)  # a one-line error (the banner shows it)
    message = Signal(str, int)  # status-bar text, timeout in ms

    def __init__(
        self,
        document: Document,
        window: QWidget,
        settings: Settings,
        pictures: PictureActions,
        autosaver: Autosaver,
        busy: Callable[[], bool],
    ) -> None:
        super().__init__(window)
        self._document = document
        self._window = window
        self._settings = settings
        self._pictures = pictures
        self._autosaver = autosaver
        self._busy = busy
        self.open_action = self._action("Open project…", "Ctrl+Shift+O", self.open_dialog)
        self.save_action = self._action("Save project", "", self.save_current)
        self.save_as_action = self._action("Save project as…", "Ctrl+Shift+S", self.save_as_dialog)
        self.recent_menu = QMenu("Open recent project", window)
        self.recent_menu.setObjectName("recentProjectsMenu")
        self.recent_menu.aboutToShow.connect(self.refresh_recent_menu)
        for name in ("project_path", "name"):
            document.subscribe(name, lambda _value: self._update_title())
        document.subscribe("project_path", lambda _value: self._update_shortcuts())
        document.subscribe("unsaved", lambda _value: self._update_modified())
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
        pictures = self._pictures
        file_menu.insertAction(pictures.paste_action, self.open_action)
        file_menu.insertMenu(pictures.paste_action, self.recent_menu)
        file_menu.insertAction(pictures.save_action, self.save_action)
        file_menu.insertAction(pictures.save_action, self.save_as_action)

    @property
    def path(self) -> Path | None:
        """The open project file (the document's)."""
        return self._document.project_path

    # -- unsaved state and title --------------------------------------------------------------
    def _update_modified(self) -> None:
        if isValid(self._window):  # the undo stack still signals while the window is destroyed
            self._window.setWindowModified(self._document.unsaved)

    def _update_title(self) -> None:
        document = self._document
        path = document.project_path
        name = path.stem if path is not None else document.name
        self._window.setWindowTitle(f"{name}[*] — {APP_NAME}" if name else f"{APP_NAME}[*]")
        self._update_modified()

    def _update_shortcuts(self) -> None:
        save_png = self._pictures.save_action
        save_key = QKeySequence(QKeySequence.StandardKey.Save)
        has_project = self._document.project_path is not None
        self.save_action.setShortcut(save_key if has_project else QKeySequence())
        save_png.setShortcut(QKeySequence() if has_project else save_key)

    # -- saving -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> bool:
        """Save the session as a project file (``.i2i`` is added when missing); errors go to the
        banner and leave an existing file as it was."""
        document = self._document
        if document.tree.root is None:
            self.error.emit("Nothing to save yet: open an image first.")
            return False
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        try:
            with _wait_cursor():
                save_project(path, capture(document))
        except ProjectError as exc:
            self.error.emit(str(exc))
            return False
        self._set_path(path)
        document.mark_clean()
        self._autosaver.schedule()
        self.message.emit(f"Saved project {path}", 5000)
        return True

    def save_current(self) -> bool:
        """Save into the open project, or ask where (no project yet)."""
        return self.save(self.path) if self.path is not None else self.save_as_dialog()

    def save_as_dialog(self) -> bool:
        if self._document.tree.root is None:
            self.error.emit("Nothing to save yet: open an image first.")
            return False
        if self.path is not None:
            start = str(self.path)
        else:
            stem = Path(self._document.name).stem or "untitled"
            start = str(Path(self._settings.last_folder) / f"{stem}{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self._window, "Save project", start, PROJECT_FILTER)
        return self.save(path) if path else False

    # -- opening ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        folder = str(self.path.parent) if self.path else self._settings.last_folder
        filters = f"{PROJECT_FILTER};;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self._window, "Open project", folder, filters)
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Open a project file in place of the session (after asking about unsaved work). A file
        that cannot be read changes nothing; the banner says why."""
        if self._busy():
            self.error.emit(BUSY)
            return False
        if not self.confirm_discard():
            return False
        path = Path(path)
        try:
            with _wait_cursor():
                self.restore(load_project(path), path)
        except ProjectError as exc:
            self.error.emit(str(exc))
            return False
        self.message.emit(f"Opened project {path}", 5000)
        return True

    def restore(self, session: Session, path: Path | None, clean: bool = True) -> None:
        """Put ``session`` in the document as the work of project ``path`` (None: no project);
        ``clean`` False keeps it marked unsaved (a recovered autosave). Raises ProjectError
        before changing anything when the session has no picture."""
        with self._autosaver.hold():
            restore(self._document, session, path, clean)
        self._set_path(path)

    def confirm_discard(self) -> bool:
        """Ask about unsaved work (Save / Discard / Cancel); True when it may be replaced."""
        if not self._document.unsaved:
            return True
        name = self.path.name if self.path is not None else "this session"
        answer = ask_save_changes(self._window, name)
        if answer == "save":
            return self.save_current()
        return answer == "discard"

    # -- recent projects ----------------------------------------------------------------------
    def _set_path(self, path: Path | None) -> None:
        self._document.project_path = path
        if path is not None:
            settings = self._settings
            entry = str(path.resolve())
            recent = [p for p in settings.recent_projects if p != entry]
            settings.recent_projects = [entry, *recent][:MAX_RECENT_PROJECTS]
            settings.last_folder = str(path.parent)
            settings.save()

    def refresh_recent_menu(self) -> None:
        """Fill "Open recent project" from the settings (newest first)."""
        menu = self.recent_menu
        menu.clear()
        recent = self._settings.recent_projects
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
        self._settings.recent_projects = []
        self._settings.save()
