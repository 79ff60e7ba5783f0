"""Binds the canvas to the document: what is painted goes into the document, what the document
gets from elsewhere (a project, a recovered autosave, a new region) goes onto the canvas.

The canvas's mask layer paints the document's mask, or the mask of the region being edited
(``Document.editing_region``: the mask is kept meanwhile, and passes still inpaint with it);
its strength layer paints the strength map. The undo stack's clean state feeds the document's
unsaved flag, and a document marked clean (saved, opened) marks the undo stack clean. A session
replaced as a whole (``Document.replaced``) is put on the canvas in one go, with an empty undo
history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PIL import Image
from PySide6.QtGui import QUndoStack
from shiboken6 import isValid

from gui.canvas.canvas import Canvas
from gui.document.document import Document


class CanvasBinding:
    """Keeps ``canvas`` and ``document`` in step both ways (see the module text)."""

    def __init__(self, document: Document, canvas: Canvas, undo_stack: QUndoStack) -> None:
        self._document = document
        self._canvas = canvas
        self._undo_stack = undo_stack
        self._syncing = False
        self._shown_image: Image.Image | None = None
        canvas.mask_changed.connect(self._on_mask_painted)
        canvas.strength_map_changed.connect(self._on_strength_map_painted)
        undo_stack.cleanChanged.connect(lambda clean: document.set_edited(not clean))
        document.subscribe("unsaved", self._on_unsaved_changed)
        document.subscribe("mask", self._on_mask_set)
        document.subscribe("strength_map", self._on_strength_map_set)
        document.subscribe("editing_region", self._on_editing_changed)
        document.subscribe("shown_id", lambda _id: self.show_shown_record())
        document.replaced.subscribe(lambda _doc: self._on_replaced())

    @contextlib.contextmanager
    def _sync(self) -> Iterator[None]:
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _quiet(self) -> bool:
        """Changes that need no echo: ours, or a session being replaced (put on at the end)."""
        return self._syncing or self._document.replacing_now

    # -- canvas → document ------------------------------------------------------------------------
    def _on_mask_painted(self) -> None:
        if self._quiet():
            return
        document = self._document
        mask = self._canvas.mask_image()
        with self._sync():
            index = document.editing_region
            if index is not None and index < len(document.regions):
                size = document.regions[index].mask.size
                document.set_region_mask(index, mask if mask is not None else Image.new("L", size))
            else:
                document.mask = mask

    def _on_strength_map_painted(self) -> None:
        if not self._quiet():
            with self._sync():
                self._document.strength_map = self._canvas.strength_map_image()

    # -- document → canvas ------------------------------------------------------------------------
    def _on_mask_set(self, mask: Image.Image | None) -> None:
        if not self._quiet() and self._document.editing_region is None:
            with self._sync():
                self._canvas.set_mask_image(mask)

    def _on_strength_map_set(self, strength_map: Image.Image | None) -> None:
        if not self._quiet():
            with self._sync():
                self._canvas.set_strength_map_image(strength_map)

    def _on_editing_changed(self, index: int | None) -> None:
        """Put the region being edited on the mask layer, or the mask back when it is done
        (one undo step each, named after the region)."""
        if self._quiet():
            return
        document = self._document
        with self._sync():
            if index is None:
                self._canvas.set_mask_image(document.mask, "Finish region")
            else:
                self._canvas.set_mask_image(
                    document.regions[index].mask, f"Edit region {index + 1}"
                )

    def _on_unsaved_changed(self, unsaved: bool) -> None:
        """Saved, opened or started: the canvas's edits so far are part of the clean state."""
        if not unsaved and isValid(self._undo_stack):  # it signals while being destroyed
            self._undo_stack.setClean()

    def show_shown_record(self) -> None:
        """Put the document's shown record on the canvas (the mask layer stays)."""
        record = self._document.shown_record()
        if record is not None and record.image is not self._shown_image:
            self._canvas.set_image(record.image, keep_mask=True)
            self._shown_image = record.image

    def _on_replaced(self) -> None:
        document, canvas = self._document, self._canvas
        record = document.shown_record() or document.tree.current
        with self._sync():
            if record is not None:
                canvas.set_image(record.image, keep_mask=False)
                self._shown_image = record.image
            canvas.set_mask_image(document.mask)
            canvas.set_strength_map_image(document.strength_map)
        self._undo_stack.clear()
        canvas.fit()
