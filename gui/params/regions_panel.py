"""The regions panel: regional prompts, each a mask painted with the ordinary mask brush.

A view of the document's regions (``gui.document.Document``: ``regions``, ``editing_region``).
Painting a region reuses the canvas's mask layer instead of a layer per region: paint the
region's area with the mask brush, then "Use current mask as region" makes the mask a new region
(with its own prompt and optional negative) and clears the mask for the next one or for
inpainting. Each region can be removed; the regions with a prompt go with every pass.

A region's "Edit" toggle paints it again: while on, the mask layer shows the region's mask (the
document keeps the mask, and passes still inpaint with it) and the ordinary brush edits it, with
the canvas's own undo (gui.window.canvas_binding). Toggling off, editing another region or
removing it puts the mask back on the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.conditioning.regions import Region

ADD_HINT = "Paint a mask, then add it as a region."


class RegionsModel(Protocol):
    """What the panel edits: the document's regions (gui.document.document.Document)."""

    regions: tuple[Region, ...]
    editing_region: int | None

    def subscribe(self, name: str, callback: Callable[[Any], None]) -> Callable[[], None]: ...

    def add_region_from_mask(self) -> str | None: ...

    def set_region_text(self, index: int, prompt: str, negative: str) -> None: ...

    def remove_region(self, index: int) -> None: ...

    def edit_region(self, index: int | None) -> None: ...


class RegionRow(QWidget):
    """One region: its mask (the model's, not shown), prompt, negative and a remove button."""

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

    def set_editing(self, on: bool) -> None:
        self.edit.blockSignals(True)
        self.edit.setChecked(on)
        self.edit.blockSignals(False)


class RegionsPanel(QWidget):
    """Regional prompts for the next passes (at most eight): rows bound to ``model``."""

    def __init__(self, model: RegionsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("regionsPanel")
        self._model = model
        self.rows: list[RegionRow] = []
        self.add_button = QPushButton("Use current mask as region")
        self.add_button.setObjectName("regionFromMask")
        self.add_button.setToolTip(
            "Paint the region with the mask brush, then click: the mask becomes a new region "
            "with its own prompt, and the mask is cleared."
        )
        self.add_button.clicked.connect(self.add_from_mask)
        self.hint = QLabel(ADD_HINT)
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.add_button)
        self._layout.addWidget(self.hint)
        self._layout.addStretch(1)
        for name in ("regions", "editing_region"):
            unsubscribe = model.subscribe(name, lambda _value: self._refresh())
            self.destroyed.connect(lambda *_, off=unsubscribe: off())
        self._refresh()

    @property
    def editing(self) -> RegionRow | None:
        """The row whose region is on the mask layer, if any."""
        index = self._model.editing_region
        return self.rows[index] if index is not None and index < len(self.rows) else None

    def add_from_mask(self) -> RegionRow | None:
        """Make the current mask a new region and clear the mask; None (and the hint says why)
        when there is no mask, a region is being edited or there are already eight regions."""
        problem = self._model.add_region_from_mask()
        if problem is not None:
            self.hint.setText(problem)
            return None
        row = self.rows[-1]
        self.hint.setText("Type the region's prompt; paint another mask to add more.")
        row.prompt.setFocus()
        return row

    def remove_row(self, row: RegionRow) -> None:
        self._model.remove_region(self.rows.index(row))

    # -- the model → the rows ---------------------------------------------------------------------
    def _refresh(self) -> None:
        regions = self._model.regions
        while len(self.rows) > len(regions):
            gone = self.rows.pop()
            gone.setParent(None)
            gone.deleteLater()
        while len(self.rows) < len(regions):
            self.rows.append(self._new_row(len(self.rows)))
        editing = self._model.editing_region
        for index, (row, region) in enumerate(zip(self.rows, regions, strict=True)):
            row.region_mask = region.mask
            for field, text in ((row.prompt, region.prompt), (row.negative, region.negative)):
                if field.text() != text:
                    field.blockSignals(True)
                    field.setText(text)
                    field.blockSignals(False)
            row.set_editing(index == editing)
        self.add_button.setEnabled(editing is None)
        if editing is not None:
            self.hint.setText("Paint the region with the mask brush; click Edit again to finish.")
        elif self.hint.text().startswith("Paint the region with the mask brush;"):
            self.hint.setText(ADD_HINT)

    def _new_row(self, index: int) -> RegionRow:
        row = RegionRow(self._model.regions[index].mask, index + 1, self)
        model = self._model

        def text_changed(*_args: object) -> None:
            model.set_region_text(self.rows.index(row), row.prompt.text(), row.negative.text())

        row.prompt.textChanged.connect(text_changed)
        row.negative.textChanged.connect(text_changed)
        row.remove.clicked.connect(lambda: self.remove_row(row))
        row.edit.toggled.connect(lambda on: model.edit_region(self.rows.index(row) if on else None))
        self._layout.insertWidget(self._layout.count() - 1, row)
        return row
