"""The strength-sweep contact sheet: one column per strength, one row per seed.

Cells fill in as the sweep's passes finish. Clicking a cell asks to show its record
(``record_shown``); double-clicking or its Continue button asks to continue from it
(``continue_requested``). "Save sheet…" writes the grid as one PNG (core's ``contact_sheet``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.atomic_io import atomic_save_image, write_error
from core.errors import UserError
from core.requests import effective_steps
from core.workflows.sweep import CELL, cell_label, contact_sheet
from gui.qt_helpers import named, warn
from gui.qt_images import thumbnail_qimage

THUMBNAIL_SIDE = CELL
_CELL_STYLE = "#sweepCell { border: 2px solid %s; border-radius: 3px; }"
_SELECTED_COLOR = "palette(highlight)"
_UNSELECTED_COLOR = "transparent"


def column_header(strength: float, steps: int | None) -> str:
    """A column title: "strength 0.30 · 9 of 30 steps" (no step count when ``steps`` is None)."""
    text = f"strength {strength:.2f}"
    if steps:
        text += f" · {effective_steps(steps, strength)} of {steps} steps"
    return text


class _SweepCell(QFrame):
    """A thumbnail, its label and a Continue button; reports clicks to the window."""

    clicked = Signal()
    continue_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepCell")
        self.record_id: str | None = None
        self.image: Image.Image | None = None
        self.picture = named(QLabel("pending"), "sweepCellPicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        self.picture.setStyleSheet("background: #484848; color: #bbbbbb;")
        self.caption = named(QLabel(), "sweepCellLabel")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.continue_button = named(QPushButton("Continue"), "continueButton")
        self.continue_button.setToolTip("Use this picture as the input of the next pass")
        self.continue_button.setEnabled(False)
        self.continue_button.clicked.connect(self.continue_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        layout.addWidget(self.continue_button)
        self.set_selected(False)

    def fill(self, record_id: str, image: Image.Image, label: str) -> None:
        self.record_id, self.image = record_id, image
        self.picture.setPixmap(QPixmap.fromImage(thumbnail_qimage(image, THUMBNAIL_SIDE)))
        self.caption.setText(label)
        self.setToolTip(label)
        self.continue_button.setEnabled(True)

    def set_selected(self, selected: bool) -> None:
        self.setStyleSheet(_CELL_STYLE % (_SELECTED_COLOR if selected else _UNSELECTED_COLOR))
        self.setProperty("selected", selected)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self.record_id is not None:
            self.continue_clicked.emit()
        super().mouseDoubleClickEvent(event)


class ContactSheetWindow(QWidget):
    """A tool window showing a sweep's grid as its cells arrive."""

    record_shown = Signal(str)  # a filled cell was clicked: show that record
    continue_requested = Signal(str)  # make that record the input of the next pass

    def __init__(self, steps: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool)
        self.setObjectName("contactSheet")
        self.setWindowTitle("Strength sweep")
        self.steps = steps
        self.strengths: list[float] = []
        self.seeds: list[int] = []
        self._cells: list[list[_SweepCell]] = []
        self._selected: tuple[int, int] | None = None
        self._cancelled = False

        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(6)
        scroll = QScrollArea()
        scroll.setWidget(self._grid_host)
        scroll.setWidgetResizable(True)
        self.status_label = named(QLabel(), "sheetStatusLabel")
        self.save_button = named(QPushButton("Save sheet…"), "saveSheetButton")
        self.save_button.setToolTip("Save the whole grid, with labels, as one PNG")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._on_save_clicked)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self.resize(900, 560)

    # -- grid ---------------------------------------------------------------------------------
    def set_grid(
        self, strengths: Sequence[float], seeds: Sequence[int], steps: int | None = None
    ) -> None:
        """Lay out an empty grid: a column per strength, a row per seed (replaces any old one)."""
        if steps is not None:
            self.steps = steps
        while self._grid.count():
            taken = self._grid.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
        self.strengths, self.seeds = [float(s) for s in strengths], [int(s) for s in seeds]
        self._cells, self._selected, self._cancelled = [], None, False
        for column, strength in enumerate(self.strengths, 1):
            header = named(QLabel(column_header(strength, self.steps)), "sweepColumnHeader")
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._grid.addWidget(header, 0, column)
        for row, seed in enumerate(self.seeds):
            self._grid.addWidget(named(QLabel(f"seed {seed}"), "sweepRowHeader"), row + 1, 0)
            cells = []
            for column in range(len(self.strengths)):
                cell = _SweepCell()
                cell.caption.setText(cell_label(self.strengths[column], seed))
                cell.clicked.connect(lambda r=row, c=column: self._on_cell_clicked(r, c))
                cell.continue_clicked.connect(lambda r=row, c=column: self._on_continue(r, c))
                self._grid.addWidget(cell, row + 1, column + 1)
                cells.append(cell)
            self._cells.append(cells)
        self._grid.setRowStretch(len(self.seeds) + 1, 1)
        self._grid.setColumnStretch(len(self.strengths) + 1, 1)
        self._update_status()

    def set_cell(self, row: int, column: int, record_id: str, image: Image.Image) -> None:
        """Fill a cell with its pass: thumbnail, label and Continue button."""
        label = cell_label(self.strengths[column], self.seeds[row])
        self._cells[row][column].fill(record_id, image, label)
        self._update_status()

    def mark_cancelled(self) -> None:
        """The sweep stopped early: label the cells that will never fill "not run"."""
        self._cancelled = True
        for cells in self._cells:
            for cell in cells:
                if cell.record_id is None:
                    cell.picture.setText("not run")
        self._update_status()

    # -- queries ------------------------------------------------------------------------------
    def cells_filled(self) -> int:
        return sum(cell.record_id is not None for cells in self._cells for cell in cells)

    def cell_record(self, row: int, column: int) -> str | None:
        return self._cells[row][column].record_id

    def cell_widget(self, row: int, column: int) -> QFrame:
        return self._cells[row][column]

    def selected_record(self) -> str | None:
        if self._selected is None:
            return None
        return self.cell_record(*self._selected)

    def select_cell(self, row: int, column: int) -> None:
        """Highlight one cell (the previous one loses its highlight)."""
        if self._selected is not None:
            self._cells[self._selected[0]][self._selected[1]].set_selected(False)
        self._selected = (row, column)
        self._cells[row][column].set_selected(True)

    # -- the sheet ----------------------------------------------------------------------------
    def sheet_image(self) -> Image.Image:
        """The contact sheet PNG's picture: every cell (grey where empty), labels and header."""
        images = [[cell.image for cell in cells] for cells in self._cells]
        labels = [[cell_label(s, seed) for s in self.strengths] for seed in self.seeds]
        header = [column_header(s, self.steps) for s in self.strengths]
        return contact_sheet(images, labels, header=header)

    def save_sheet(self, path: str) -> None:
        """Write the contact sheet to ``path`` as a PNG, atomically (overwrites; the file dialog
        asks). Raises a one-line UserError when it cannot be written; ``path`` is kept then."""
        try:
            atomic_save_image(path, self.sheet_image(), format="PNG")
        except OSError as exc:
            raise write_error(path, exc) from None

    def choose_sheet_path(self) -> str | None:
        """Ask for a file to save the sheet to; None when cancelled."""
        dialog = QFileDialog(self, "Save contact sheet", "strength-sweep.png", "PNG (*.png)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("png")
        if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        return dialog.selectedFiles()[0]

    # -- handlers -----------------------------------------------------------------------------
    def _update_status(self) -> None:
        total = len(self.strengths) * len(self.seeds)
        filled = self.cells_filled()
        text = f"{filled} of {total} done"
        if self._cancelled and filled < total:
            text += " — cancelled"
        self.status_label.setText(text)
        self.save_button.setEnabled(filled > 0)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        self.select_cell(row, column)
        record_id = self.cell_record(row, column)
        if record_id is not None:
            self.record_shown.emit(record_id)

    def _on_continue(self, row: int, column: int) -> None:
        record_id = self.cell_record(row, column)
        if record_id is not None:
            self.select_cell(row, column)
            self.continue_requested.emit(record_id)

    def _on_save_clicked(self) -> None:
        path = self.choose_sheet_path()
        if not path:
            return
        try:
            self.save_sheet(path)
        except UserError as exc:
            warn(self, "Save contact sheet", str(exc))
