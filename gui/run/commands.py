"""Undoable edits of the pass tree (canvas edits have theirs in gui/canvas/mask_layer.py)."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from core.history import PassTree


class ApplyPassCommand(QUndoCommand):
    """Use a pass as the input ("Continue from here", live mode's Apply, a workflow's last pass):
    its record becomes the current image and the next pass's input.

    Undo returns to the record that was current before; the pass stays in the history (nothing
    is lost), so redo simply applies it again. Records deleted meanwhile are skipped.
    """

    def __init__(self, tree: PassTree, previous_id: str | None, applied_id: str) -> None:
        super().__init__(f"Use {tree.get(applied_id).name} as input")
        self._tree = tree
        self._previous_id = previous_id
        self._applied_id = applied_id

    @property
    def applied_id(self) -> str:
        return self._applied_id

    def redo(self) -> None:
        if self._applied_id in self._tree:
            self._tree.select(self._applied_id)

    def undo(self) -> None:
        if self._previous_id is not None and self._previous_id in self._tree:
            self._tree.select(self._previous_id)
