"""The regions panel: regional prompts, each a mask painted with the ordinary mask brush.

Painting a region reuses the canvas's mask layer instead of a layer per region: paint the
region's area with the mask brush, then "Use current mask as region" copies the mask into a new
region (with its own prompt and optional negative) and clears the mask for the next one or for
inpainting. Each region can be removed; the panel's regions go with every pass the runner builds.
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
        self.remove = QPushButton("Remove")
        self.remove.setObjectName("regionRemove")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.label)
        top.addStretch(1)
        top.addWidget(self.remove)
        layout.addLayout(top)
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)

    def region(self) -> Region:
        return Region(self.region_mask, self.prompt.text().strip(), self.negative.text().strip())


class RegionsPanel(QWidget):
    """Regional prompts for the next passes (at most eight)."""

    def __init__(self, masks: MaskSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("regionsPanel")
        self._masks = masks
        self.rows: list[RegionRow] = []
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
        mask or already eight regions."""
        mask = self._masks.mask_image()
        if mask is None:
            self.hint.setText("Paint the region with the mask brush first.")
            return None
        if len(self.rows) >= MAX_REGIONS:
            self.hint.setText(f"At most {MAX_REGIONS} regions.")
            return None
        row = RegionRow(mask.copy(), len(self.rows) + 1, self)
        row.remove.clicked.connect(lambda: self.remove_row(row))
        self.rows.append(row)
        self._layout.insertWidget(self._layout.count() - 1, row)
        self._masks.clear_mask()
        self.hint.setText("Type the region's prompt; paint another mask to add more.")
        row.prompt.setFocus()
        return row

    def remove_row(self, row: RegionRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        for number, other in enumerate(self.rows, 1):
            other.label.setText(f"Region {number}")

    def regions(self) -> tuple[Region, ...]:
        """The regions with a prompt, in order (a region without one is left out)."""
        return tuple(row.region() for row in self.rows if row.prompt.text().strip())
