"""The regions panel: regional prompts, each a mask painted with the ordinary mask brush.

Painting a region reuses the canvas's mask layer instead of a layer per region: paint the
region's area with the mask brush, then "Use current mask as region" copies the mask into a new
region (with its own prompt and optional negative) and clears the mask for the next one or for
inpainting. Each region can be removed; the panel's regions go with every pass the runner builds.

A region's "Edit" toggle paints it again: while on, the mask layer shows the region's mask (the
mask that was there is kept aside, and passes still use it as their inpainting mask) and the
ordinary brush edits it, with the canvas's own undo. Toggling off, editing another region or
removing it writes the layer back into the region and puts the kept mask back.
"""

from __future__ import annotations

from typing import Protocol

from PIL import Image
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.conditioning.regions import MAX_REGIONS, Region


class MaskSource(Protocol):
    """The canvas's mask layer, as the panel uses it."""

    def mask_image(self) -> Image.Image | None: ...

    def clear_mask(self) -> None: ...

    def set_mask_image(self, mask: Image.Image | None, text: str = ...) -> None: ...

    def strength_map_image(self) -> Image.Image | None: ...


class RegionRow(QWidget):
    """One region: its mask (kept, not shown), prompt, negative and a remove button."""

    def __init__(self, mask: Image.Image, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("regionRow")
        self.region_mask = mask
        self.label = QLabel(f"Region {number}")
        self.prompt = QLineEdit()
        self.prompt.setObjectName("regionPrompt")
        self.prompt.setPlaceholderText("what this region shows")
        self.negative = QLineEdit()
        self.negative.setObjectName("regionNegative")
        self.negative.setPlaceholderText("negative (optional)")
        self.edit = QPushButton("Edit")
        self.edit.setObjectName("regionEditButton")
        self.edit.setCheckable(True)
        self.edit.setToolTip("Paint this region's mask with the mask brush; click again to finish.")
        self.remove = QPushButton("Remove")
        self.remove.setObjectName("regionRemove")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.label)
        top.addStretch(1)
        top.addWidget(self.edit)
        top.addWidget(self.remove)
        layout.addLayout(top)
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)

    def region(self, mask: Image.Image | None = None) -> Region:
        """The region (``mask`` instead of the kept one: the live mask while it is edited)."""
        mask = self.region_mask if mask is None else mask
        return Region(mask, self.prompt.text().strip(), self.negative.text().strip())

    def set_editing(self, on: bool) -> None:
        self.edit.blockSignals(True)
        self.edit.setChecked(on)
        self.edit.blockSignals(False)


class RegionsPanel(QWidget):
    """Regional prompts for the next passes (at most eight)."""

    def __init__(self, masks: MaskSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("regionsPanel")
        self._masks = masks
        self.rows: list[RegionRow] = []
        self.editing: RegionRow | None = None  # the region on the mask layer, if any
        self._kept_mask: Image.Image | None = None  # the mask set aside while it is edited
        self.add_button = QPushButton("Use current mask as region")
        self.add_button.setObjectName("regionFromMask")
        self.add_button.setToolTip(
            "Paint the region with the mask brush, then click: the mask becomes a new region "
            "with its own prompt, and the mask is cleared."
        )
        self.add_button.clicked.connect(self.add_from_mask)
        self.hint = QLabel("Paint a mask, then add it as a region.")
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.add_button)
        self._layout.addWidget(self.hint)
        self._layout.addStretch(1)

    def add_from_mask(self) -> RegionRow | None:
        """Copy the current mask into a new region and clear the mask; None when there is no
        mask, a region is being edited or there are already eight regions."""
        if self.editing is not None:
            self.hint.setText("Finish editing the region first.")
            return None
        mask = self._masks.mask_image()
        if mask is None:
            self.hint.setText("Paint the region with the mask brush first.")
            return None
        if len(self.rows) >= MAX_REGIONS:
            self.hint.setText(f"At most {MAX_REGIONS} regions.")
            return None
        row = self._add_row(mask.copy())
        self._masks.clear_mask()
        self.hint.setText("Type the region's prompt; paint another mask to add more.")
        row.prompt.setFocus()
        return row

    def _add_row(self, mask: Image.Image, prompt: str = "", negative: str = "") -> RegionRow:
        row = RegionRow(mask, len(self.rows) + 1, self)
        row.prompt.setText(prompt)
        row.negative.setText(negative)
        row.remove.clicked.connect(lambda: self.remove_row(row))
        row.edit.toggled.connect(lambda on: self.start_edit(row) if on else self.finish_edit())
        self.rows.append(row)
        self._layout.insertWidget(self._layout.count() - 1, row)
        return row

    def remove_row(self, row: RegionRow) -> None:
        if row is self.editing:
            self.finish_edit()
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        for number, other in enumerate(self.rows, 1):
            other.label.setText(f"Region {number}")

    # ---- editing a region on the mask layer --------------------------------------------------
    def start_edit(self, row: RegionRow) -> None:
        """Show ``row``'s mask on the mask layer for the brush (the current mask is kept aside);
        another region being edited is finished first."""
        if row is self.editing:
            return
        self.finish_edit()
        self._kept_mask = self._masks.mask_image()
        self.editing = row
        row.set_editing(True)
        self.add_button.setEnabled(False)
        self._masks.set_mask_image(row.region_mask, f"Edit {row.label.text().lower()}")
        self.hint.setText("Paint the region with the mask brush; click Edit again to finish.")

    def finish_edit(self) -> None:
        """Write the mask layer back into the region being edited (if any) and put the kept mask
        back on the layer."""
        row = self.editing
        if row is None:
            return
        row.region_mask = self._live_mask(row)
        self.editing = None
        row.set_editing(False)
        self.add_button.setEnabled(True)
        kept, self._kept_mask = self._kept_mask, None
        self._masks.set_mask_image(kept, f"Finish {row.label.text().lower()}")
        self.hint.setText("Paint a mask, then add it as a region.")

    def _live_mask(self, row: RegionRow) -> Image.Image:
        """The mask layer as ``row``'s mask (all zero when it was wiped)."""
        mask = self._masks.mask_image()
        return mask if mask is not None else Image.new("L", row.region_mask.size, 0)

    def inpaint_mask(self) -> Image.Image | None:
        """The mask a pass inpaints with: the kept mask while a region is edited."""
        if self.editing is not None:
            return self._kept_mask.copy() if self._kept_mask is not None else None
        return self._masks.mask_image()

    def strength_map_image(self) -> Image.Image | None:
        return self._masks.strength_map_image()

    def mask_image(self) -> Image.Image | None:
        """The runner's ``PaintedLayers``: the panel stands in for the canvas so that editing a
        region does not turn it into the pass's inpainting mask."""
        return self.inpaint_mask()

    # ---- the regions -------------------------------------------------------------------------
    def regions(self) -> tuple[Region, ...]:
        """The regions with a prompt, in order (a region without one is left out)."""
        return tuple(
            row.region(self._live_mask(row) if row is self.editing else None)
            for row in self.rows
            if row.prompt.text().strip()
        )

    def saved_regions(self) -> list[tuple[Image.Image, str, str]]:
        """Every region (with a prompt or not) as (mask, prompt, negative) for project files; the
        one being edited with the mask layer as its mask."""
        saved = []
        for row in self.rows:
            mask = self._live_mask(row) if row is self.editing else row.region_mask
            saved.append((mask, row.prompt.text(), row.negative.text()))
        return saved

    def set_regions(self, regions: list[tuple[Image.Image, str, str]]) -> None:
        """Replace the regions (an edit in progress is dropped; the mask layer is left alone)."""
        self.editing, self._kept_mask = None, None
        self.add_button.setEnabled(True)
        for row in list(self.rows):
            self.remove_row(row)
        for mask, prompt, negative in regions[:MAX_REGIONS]:
            self._add_row(mask, prompt, negative)
