"""The window's own actions (Undo, Redo, Generate, Cancel, Load the model in the background)
and the menu bar filled from a list of menus.

The other actions belong to their helpers (files, projects, live mode, workflows, the model
manager, the docks); the window lists them in ``fill_menu_bar``'s sections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMenu, QMenuBar

from gui.run.warm_up import ModelWarmUp
from gui.window.settings import Settings

MenuItem = QAction | QMenu | None  # None: a separator


class WindowActions:
    """Undo and Redo of ``undo_stack`` (their text names the edit), Generate (Ctrl+Enter) and
    Cancel (Esc) calling ``generate``/``cancel``, and the warm-up toggle kept in ``settings``."""

    def __init__(
        self,
        parent: QObject,
        undo_stack: QUndoStack,
        generate: Callable[[], object],
        cancel: Callable[[], None],
        warm_up: ModelWarmUp,
        settings: Settings,
    ) -> None:
        self.undo = undo_stack.createUndoAction(parent, "Undo")
        self.undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.undo.setProperty("shortcutName", "Undo")  # its text names the last edit
        self.redo = undo_stack.createRedoAction(parent, "Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo.setProperty("shortcutName", "Redo")
        self.generate = QAction("Generate", parent)
        self.generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.generate.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.generate.triggered.connect(generate)
        self.cancel = QAction("Cancel", parent)
        self.cancel.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel.triggered.connect(cancel)
        self.warm_up = QAction("Load the model in the background", parent)
        self.warm_up.setObjectName("warmUpAction")
        self.warm_up.setCheckable(True)
        self.warm_up.setChecked(warm_up.enabled)
        self.warm_up.setToolTip(
            "Load the chosen model while you paint, so the first Generate starts at once"
        )
        self._warm_up, self._settings = warm_up, settings
        self.warm_up.toggled.connect(self._set_warm_up)

    def _set_warm_up(self, on: bool) -> None:
        self._warm_up.set_enabled(on)
        self._settings.warm_up = on
        self._settings.save()


def fill_menu_bar(
    bar: QMenuBar, sections: Sequence[tuple[str, Sequence[MenuItem]]]
) -> dict[str, QMenu]:
    """Add one menu per (title, items) section; returns the menus by title."""
    menus: dict[str, QMenu] = {}
    for title, items in sections:
        menu = menus[title] = bar.addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
            elif isinstance(item, QMenu):
                menu.addMenu(item)
            else:
                menu.addAction(item)
    return menus
