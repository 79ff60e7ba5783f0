"""Undo for the Control panel: every edit of the conditioning state is one QUndoCommand.

An edit replaces one whole list (``loras``, ``controls`` or ``references``), so a command keeps
the tuple before and after. A slider drag pushes many edits with the same ``merge_key``; they
merge into one step (a new drag gets a new key).
"""

from __future__ import annotations

from collections.abc import Hashable

from PySide6.QtGui import QUndoCommand

from gui.params.conditioning_state import ConditioningState

_MERGE_ID = 0x434F4E54  # "CONT": commands with a merge key merge only with each other


class SetConditioningCommand(QUndoCommand):
    """Set ``state.<name>`` from ``before`` to ``after`` (pushing it applies it)."""

    def __init__(
        self,
        state: ConditioningState,
        name: str,
        before: tuple,
        after: tuple,
        text: str,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(text)
        self._state = state
        self.name = name
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:
        return _MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt override)
        if not isinstance(other, SetConditioningCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self._set(self.after)

    def undo(self) -> None:
        self._set(self.before)

    def _set(self, value: tuple) -> None:
        if self.name == "controls" and self._state.shown_control >= len(value):
            self._state.shown_control = -1
        setattr(self._state, self.name, value)
