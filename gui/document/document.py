"""The document: one object that holds a session, plain Python, observable, no Qt.

It owns the pass tree, the generation parameters (with the Control panel's conditioning), the
regional prompts, the mask and strength map the next pass uses, the record on screen, the
project file and whether there is unsaved work. Widgets bind to it (``subscribe``); autosave,
projects, recovery and the runner take it, never the window. ``capture``/``restore``
(``gui.document.session_file``) turn it into a ``core.project.Session`` and back.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from core.conditioning.regions import MAX_REGIONS, Region
from core.history import PassRecord, PassTree, TreeChange, TreeEvent
from core.observable import Observable, Subscribers
from gui.params.state import GenerationParams

NO_REGION_MASK = "Paint the region with the mask brush first."
REGION_BEING_EDITED = "Finish editing the region first."
TOO_MANY_REGIONS = f"At most {MAX_REGIONS} regions."


@dataclass(eq=False)
class Document(Observable):
    """One session. Fields notify through ``subscribe(name, callback)``; the tree through
    ``tree.subscribe``; ``replaced`` after ``start`` or a restore swapped the whole session."""

    shown_id: str | None = None  # the record on the canvas (may differ from the input)
    mask: Image.Image | None = None  # mode "L": the next pass's inpainting mask, None: none
    strength_map: Image.Image | None = None  # mode "L": the next pass's strength map
    # Every regional prompt (with or without text); a pass takes the ones with a prompt.
    regions: tuple[Region, ...] = ()
    editing_region: int | None = None  # the region on the mask layer (its mask is painted)
    project_path: Path | None = None  # the project file the work belongs to
    name: str = ""  # the picture's name while no project is open
    unsaved: bool = False  # work that is in no file (or differs from the project file)

    def __post_init__(self) -> None:
        # Not fields: they hold their own observers (the tree its events, the parameters theirs).
        self.tree = PassTree()
        self.params = GenerationParams()
        self.replaced: Subscribers[Document] = Subscribers()
        self._tree_changed = False  # passes added, renamed or deleted since the last clean
        self._clean_input: str | None = None  # the input pass when last clean
        self._edited = False  # the canvas's undo stack is not at its clean index
        self._quiet = 0  # > 0 while a whole session is put in (no unsaved bookkeeping)
        self.tree.subscribe(self._on_tree_changed)

    # -- records ----------------------------------------------------------------------------------
    def shown_record(self) -> PassRecord | None:
        """The record on the canvas (None: nothing shown, or it was deleted)."""
        shown = self.shown_id
        return self.tree.get(shown) if shown is not None and shown in self.tree else None

    def show(self, record_id: str) -> None:
        """Put a record on the canvas (the next pass's input is unchanged)."""
        if record_id in self.tree:
            self.shown_id = record_id

    def start(self, image: Image.Image, name: str = "Original", document: str = "") -> None:
        """A new session from ``image``: a new tree, no mask, strength map or project. The
        regions and parameters stay (they describe the next pass, not the picture)."""
        with self.replacing():
            self.editing_region = None
            self.mask = None
            self.strength_map = None
            self.tree.set_root(image, name)
            self.shown_id = self.tree.root_id
            self.project_path = None
            if document:
                self.name = document
        self.mark_clean()

    @property
    def replacing_now(self) -> bool:
        """Inside :meth:`replacing`: field changes are part of a whole new session."""
        return self._quiet > 0

    @contextlib.contextmanager
    def replacing(self) -> Iterator[None]:
        """A block that replaces the whole session: no unsaved bookkeeping inside, ``replaced``
        notified after it (not when it raised)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
        if not self._quiet:
            self.replaced.notify(self)

    # -- regional prompts -------------------------------------------------------------------------
    def add_region_from_mask(self) -> str | None:
        """Make the mask a new region (no prompt yet) and clear the mask; returns why it could
        not (one line) or None."""
        if self.editing_region is not None:
            return REGION_BEING_EDITED
        if self.mask is None:
            return NO_REGION_MASK
        if len(self.regions) >= MAX_REGIONS:
            return TOO_MANY_REGIONS
        self.regions = (*self.regions, Region(self.mask.copy(), ""))
        self.mask = None
        return None

    def set_region_text(self, index: int, prompt: str, negative: str) -> None:
        region = self.regions[index]
        if (region.prompt, region.negative) != (prompt, negative):
            self._set_region(index, dataclasses.replace(region, prompt=prompt, negative=negative))

    def set_region_mask(self, index: int, mask: Image.Image) -> None:
        self._set_region(index, dataclasses.replace(self.regions[index], mask=mask))

    def _set_region(self, index: int, region: Region) -> None:
        regions = list(self.regions)
        regions[index] = region
        self.regions = tuple(regions)

    def remove_region(self, index: int) -> None:
        editing = self.editing_region
        self.regions = self.regions[:index] + self.regions[index + 1 :]
        if editing == index:
            self.editing_region = None
        elif editing is not None and editing > index:
            self.editing_region = editing - 1

    def edit_region(self, index: int | None) -> None:
        """Paint region ``index`` with the mask brush (None: finish editing). The mask stays the
        next pass's inpainting mask meanwhile."""
        self.editing_region = index if index is None or 0 <= index < len(self.regions) else None

    def pass_regions(self) -> tuple[Region, ...]:
        """The regions a pass uses: those with a prompt, in order, text stripped."""
        return tuple(
            Region(r.mask, r.prompt.strip(), r.negative.strip())
            for r in self.regions
            if r.prompt.strip()
        )

    # -- unsaved work -----------------------------------------------------------------------------
    def mark_clean(self) -> None:
        """The session is what its file holds (just saved or opened) or what was just started."""
        self._tree_changed = False
        self._clean_input = self.tree.current_id
        self._edited = False
        self._refresh_unsaved()

    def mark_unsaved(self) -> None:
        """Work that is in no file (a recovered autosave)."""
        self._tree_changed = True
        self._refresh_unsaved()

    def set_edited(self, edited: bool) -> None:
        """Whether the canvas's edits (the undo stack) moved away from the clean state."""
        self._edited = edited
        self._refresh_unsaved()

    def _on_tree_changed(self, event: TreeEvent) -> None:
        if self._quiet:
            return
        if event.kind is TreeChange.SELECTED:  # a new input is shown (Apply, Continue…)
            self.shown_id = event.record.id
        elif event.kind is TreeChange.REMOVED and event.record.id == self.shown_id:
            current = self.tree.current
            self.shown_id = (
                current.id if current is not None and current.id != event.record.id else None
            )
        if event.kind is not TreeChange.SELECTED:
            self._tree_changed = True
        self._refresh_unsaved()

    def _refresh_unsaved(self) -> None:
        moved = self.tree.current_id != self._clean_input
        self.unsaved = self._tree_changed or moved or self._edited
