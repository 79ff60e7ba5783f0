"""The Help menu: Keyboard shortcuts (F1) and About, with the dialogs they open."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from core.history import PassTree
from gui.params.state import GenerationParams
from gui.qt_helpers import named
from gui.window.about_dialog import AboutDialog, about_rows
from gui.window.settings import APP_NAME
from gui.window.shortcuts_dialog import CANVAS_KEYS, ShortcutsDialog, shortcut_rows


def last_pass_record(tree: PassTree) -> dict[str, Any] | None:
    """The newest pass's record (not the original picture's), or None before the first pass."""
    passes = [record for record in tree.records() if not record.is_root and record.params]
    return max(passes, key=lambda record: record.created).params if passes else None


class HelpMenu(QObject):
    """Adds Help › Keyboard shortcuts… and About… to ``window``'s menu bar."""

    def __init__(self, window: QMainWindow, tree: PassTree, state: GenerationParams) -> None:
        super().__init__(window)
        self._window, self._tree, self._state = window, tree, state
        menu = window.menuBar().addMenu("&Help")
        self.shortcuts_action = named(QAction("Keyboard shortcuts…", window), "shortcutsAction")
        self.shortcuts_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.about_action = named(QAction(f"About {APP_NAME}…", window), "aboutAction")
        self.about_action.triggered.connect(self.show_about)
        menu.addAction(self.shortcuts_action)
        menu.addAction(self.about_action)

    def show_shortcuts(self) -> ShortcutsDialog:
        """Open the list of shortcuts, read from the window's actions now."""
        rows = [*shortcut_rows(self._window), *CANVAS_KEYS]
        dialog = ShortcutsDialog(rows, self._window)
        dialog.show()
        return dialog

    def show_about(self) -> AboutDialog:
        """Open the About dialog (versions, device and precision in use)."""
        rows = about_rows(last_pass_record(self._tree), self._state.device, self._state.dtype)
        dialog = AboutDialog(rows, self._window)
        dialog.show()
        return dialog
