"""The window's dockable panels, their default layout and View › Reset layout.

Every side panel is a QDockWidget (movable, floatable, closable; View lists them). The layout the
window is built with is the default: Reset layout restores it. The current layout is kept in the
settings (``window_state``) on close and restored on start.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QToolBar, QWidget

from gui.qt_helpers import named
from gui.window.settings import Settings

DEFAULT_SIZE = (1400, 900)
# The left panels' default width: history cards show their lines in full (not "21 ste…").
DEFAULT_LEFT_WIDTH = 370


def _encode(data: QByteArray) -> str:
    return bytes(data.toBase64().data()).decode()


class DockLayout(QObject):
    """Adds the docks, remembers the default layout (``mark_default``) and restores it."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.docks: list[QDockWidget] = []
        self._default = QByteArray()
        self.reset_action = named(QAction("Reset layout", window), "resetLayoutAction")
        self.reset_action.setToolTip("Put every panel and toolbar back where it starts")
        self.reset_action.triggered.connect(self.reset)

    def add(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """A dockable panel holding ``widget`` in ``area``."""
        dock = named(QDockWidget(title, self._window), name)
        dock.setWidget(widget)
        features = QDockWidget.DockWidgetFeature
        movable = features.DockWidgetMovable | features.DockWidgetFloatable
        dock.setFeatures(movable | features.DockWidgetClosable)
        self._window.addDockWidget(area, dock)
        self.docks.append(dock)
        return dock

    def fill_view_menu(self, menu: QMenu) -> None:
        """Add a show/hide entry for every dock and toolbar, then Reset layout."""
        menu.addSeparator()
        for dock in self.docks:
            menu.addAction(dock.toggleViewAction())
        for toolbar in self._toolbars():
            menu.addAction(toolbar.toggleViewAction())
        menu.addSeparator()
        menu.addAction(self.reset_action)

    def mark_default(self) -> None:
        """Remember the layout as built (call once every dock and toolbar is in place), the
        left panels at their default width in a window of the default size."""
        window = self._window
        window.resize(*DEFAULT_SIZE)
        left = [
            d
            for d in self.docks
            if window.dockWidgetArea(d) == Qt.DockWidgetArea.LeftDockWidgetArea
        ]
        if left:
            window.resizeDocks(left[:1], [DEFAULT_LEFT_WIDTH], Qt.Orientation.Horizontal)
        self._default = window.saveState()

    def reset(self) -> None:
        """Back to the default layout: every dock and toolbar shown, docked where it started."""
        window = self._window
        for widget in [*self.docks, *self._toolbars()]:
            if isinstance(widget, QDockWidget):
                widget.setFloating(False)
            widget.show()
        window.restoreState(self._default)

    def _toolbars(self) -> list[QToolBar]:
        window = self._window
        return [bar for bar in window.findChildren(QToolBar) if bar.parent() is window]

    def restore(self, settings: Settings) -> None:
        """The size, position and layout kept in the settings (the default size when none)."""
        window = self._window
        if settings.window_geometry:
            window.restoreGeometry(QByteArray.fromBase64(settings.window_geometry.encode()))
        else:
            window.resize(*DEFAULT_SIZE)
        if settings.window_state:
            window.restoreState(QByteArray.fromBase64(settings.window_state.encode()))

    def store(self, settings: Settings) -> None:
        """Put the current size, position and layout into ``settings`` (not saved yet)."""
        settings.window_geometry = _encode(self._window.saveGeometry())
        settings.window_state = _encode(self._window.saveState())
