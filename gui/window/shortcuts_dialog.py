"""Help › Keyboard shortcuts: every shortcut of the window, read from its actions when opened
(so the list is never out of date), and a check that no two actions share a key."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from gui.qt_helpers import named


@dataclass(frozen=True)
class ShortcutRow:
    """One action's shortcuts: where it lives (menu or toolbar), its name, its keys."""

    place: str
    action: str
    keys: tuple[str, ...]


# Keys the canvas reads itself while it has the focus (gui/canvas/canvas.py keyPressEvent), not
# actions: listed after the actions' shortcuts.
CANVAS_KEYS = (
    ShortcutRow("Canvas", "Smaller / larger brush", ("[", "]")),
    ShortcutRow("Canvas", "Show or hide the mask", ("M",)),
    ShortcutRow("Canvas", "Fit to window", ("F",)),
    ShortcutRow("Canvas", "Actual size (100%)", ("1",)),
    ShortcutRow("Canvas", "Zoom in / out", ("Ctrl++", "Ctrl+-")),
    ShortcutRow("Canvas", "Pan while held (with a drag)", ("Space",)),
)


def _place(action: QAction) -> str:
    for owner in action.associatedObjects():
        if isinstance(owner, QMenu) and owner.title():
            return owner.title().replace("&", "")
    for owner in action.associatedObjects():
        if isinstance(owner, QToolBar):
            return owner.windowTitle()
    return "Window"


def shortcut_rows(window: QWidget) -> list[ShortcutRow]:
    """Every action of ``window`` (and its children) with at least one shortcut, menu by menu."""
    rows = []
    seen: set[int] = set()
    for action in [*window.actions(), *window.findChildren(QAction)]:
        keys = tuple(
            key.toString(QKeySequence.SequenceFormat.NativeText)
            for key in action.shortcuts()
            if not key.isEmpty()
        )
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        name = action.property("shortcutName") or action.text()  # Undo, not "Undo Apply …"
        rows.append(ShortcutRow(_place(action), str(name).replace("&", ""), keys))
    return sorted(rows, key=lambda row: (row.place, row.action))


def shortcut_clashes(rows: list[ShortcutRow]) -> dict[str, list[str]]:
    """Keys bound to more than one action: {key: [action names]} (empty when all is well)."""
    owners: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        for key in row.keys:
            owners[key].append(row.action)
    return {key: names for key, names in owners.items() if len(names) > 1}


def shortcuts_markdown(rows: list[ShortcutRow]) -> str:
    """The rows as a Markdown table (the README's list is generated with this)."""
    lines = ["| Menu | Action | Shortcut |", "|---|---|---|"]
    for row in rows:
        keys = ", ".join(f"`{key}`" for key in row.keys)
        lines.append(f"| {row.place} | {row.action} | {keys} |")
    return "\n".join(lines) + "\n"


class ShortcutsDialog(QDialog):
    """A read-only table: menu, action, shortcut."""

    def __init__(self, rows: list[ShortcutRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = named(QTableWidget(len(rows), 3), "shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for index, row in enumerate(rows):
            for column, text in enumerate((row.place, row.action, ", ".join(row.keys))):
                self.table.setItem(index, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column_layout = QVBoxLayout(self)
        column_layout.addWidget(self.table)
        column_layout.addWidget(buttons)
        self.resize(560, 620)
