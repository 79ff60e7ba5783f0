"""Single-letter shortcuts (B, E, R, H) that never fire while the user is typing.

A letter reaches a tool shortcut when the focus is not in a text field, for instance after a click
that missed one. The guard drops such a shortcut while a text field has the focus, and within a
moment of the previous key press (someone typing a word), so typing never switches tools.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

TYPING_MOMENT_S = 0.8  # a key pressed this soon after another one is typing, not a shortcut
SAME_PRESS_S = 0.005  # nobody types two keys this close together
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


def now() -> float:
    """The clock key presses are timed with (tests replace it)."""
    return time.monotonic()


def is_text_field(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes typed text (a line or text edit, a spin box, an editable combo)."""
    if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit | QAbstractSpinBox):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class TypingGuard(QObject):
    """Filters the shortcut events of ``actions``; watches key presses application-wide."""

    def __init__(self, actions: Iterable[QAction], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._last_key = float("-inf")  # the latest typed key press
        self._previous_key = float("-inf")  # the one before it
        self._actions = list(actions)
        for action in self._actions:
            action.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def typing(self) -> bool:
        """True while a text field has the focus or keys came in quick succession."""
        if is_text_field(QApplication.focusWidget()):
            return True
        return self._last_key - self._previous_key < TYPING_MOMENT_S

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride:  # every key press, before shortcuts are matched
            assert isinstance(event, QKeyEvent)
            if event.text().strip() and not event.modifiers() & _COMMAND_MODIFIERS:
                pressed = now()
                # The same press reaches each parent of the focus widget in turn: count it once.
                if not event.isAutoRepeat() and pressed - self._last_key > SAME_PRESS_S:
                    self._previous_key, self._last_key = self._last_key, pressed
        elif kind == QEvent.Type.Shortcut and watched in self._actions:
            return self.typing()  # True: the shortcut is dropped
        return False
