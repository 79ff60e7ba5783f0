"""The sweep contact sheet: grid layout, filling cells, clicks, cancel labels, saving the PNG."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from core.workflows.sweep import sheet_size
from gui.history.contact_sheet import ContactSheetWindow
from tests.tiny_models.images import make_image

STRENGTHS = [0.3, 0.5, 0.7]
SEEDS = [123, 124]


@pytest.fixture
def sheet(qtbot):
    window = ContactSheetWindow(steps=30)
    qtbot.addWidget(window)
    window.set_grid(STRENGTHS, SEEDS)
    window.show()
    qtbot.waitExposed(window)
    return window


def _labels(window, name):
    return [label.text() for label in window.findChildren(type(window.status_label), name)]


def test_grid_has_headers_and_pending_cells(sheet):
    assert sheet.objectName() == "contactSheet"
    assert sheet.windowTitle() == "Strength sweep"
    assert sheet.windowFlags() & Qt.WindowType.Tool == Qt.WindowType.Tool
    assert _labels(sheet, "sweepColumnHeader") == [
        "strength 0.30 · 9 of 30 steps",
        "strength 0.50 · 15 of 30 steps",
        "strength 0.70 · 21 of 30 steps",
    ]
    assert _labels(sheet, "sweepRowHeader") == ["seed 123", "seed 124"]
    assert _labels(sheet, "sweepCellPicture") == ["pending"] * 6
    assert sheet.cells_filled() == 0
    assert sheet.cell_record(1, 2) is None
    assert not sheet.save_button.isEnabled()


def test_set_cell_fills_a_thumbnail_and_label(sheet):
    sheet.set_cell(1, 2, "rec-1-2", make_image(400, 200))
    assert sheet.cells_filled() == 1
    assert sheet.cell_record(1, 2) == "rec-1-2"
    cell = sheet.cell_widget(1, 2)
    pixmap = cell.picture.pixmap()
    assert (pixmap.width(), pixmap.height()) == (192, 96)
    assert cell.caption.text() == "s=0.70 · seed 124"
    assert cell.continue_button.isEnabled()
    assert not sheet.cell_widget(0, 0).continue_button.isEnabled()
    assert sheet.save_button.isEnabled()
    assert sheet.status_label.text() == "1 of 6 done"


def test_click_shows_and_highlights_double_click_continues(sheet, qtbot):
    sheet.set_cell(0, 1, "rec-0-1", make_image(64, 64))
    cell = sheet.cell_widget(0, 1)
    with qtbot.waitSignal(sheet.record_shown) as shown:
        qtbot.mouseClick(cell, Qt.MouseButton.LeftButton)
    assert shown.args == ["rec-0-1"]
    assert cell.property("selected") is True
    assert sheet.selected_record() == "rec-0-1"
    with qtbot.waitSignal(sheet.continue_requested) as continued:
        qtbot.mouseDClick(cell, Qt.MouseButton.LeftButton)
    assert continued.args == ["rec-0-1"]
    with qtbot.waitSignal(sheet.continue_requested) as continued:
        cell.continue_button.click()
    assert continued.args == ["rec-0-1"]


def test_selection_moves_and_empty_cells_emit_nothing(sheet, qtbot):
    sheet.set_cell(0, 0, "a", make_image(64, 64))
    qtbot.mouseClick(sheet.cell_widget(0, 0), Qt.MouseButton.LeftButton)
    with (
        qtbot.assertNotEmitted(sheet.record_shown),
        qtbot.assertNotEmitted(sheet.continue_requested),
    ):
        qtbot.mouseClick(sheet.cell_widget(1, 1), Qt.MouseButton.LeftButton)
        qtbot.mouseDClick(sheet.cell_widget(1, 1), Qt.MouseButton.LeftButton)
    assert sheet.cell_widget(0, 0).property("selected") is False
    assert sheet.cell_widget(1, 1).property("selected") is True


def test_mark_cancelled_labels_the_cells_that_never_ran(sheet):
    sheet.set_cell(0, 0, "a", make_image(64, 64))
    sheet.mark_cancelled()
    pictures = _labels(sheet, "sweepCellPicture")
    assert pictures[0] == ""  # the filled cell shows its picture
    assert pictures[1:] == ["not run"] * 5
    assert "cancelled" in sheet.status_label.text()


def test_save_sheet_writes_a_png_of_the_grid(sheet, tmp_path):
    for row in range(len(SEEDS)):
        for column in range(len(STRENGTHS)):
            if (row, column) != (1, 2):  # one cell left empty
                sheet.set_cell(row, column, f"r{row}{column}", make_image(96, 64, seed=column))
    path = tmp_path / "sheet.png"
    sheet.save_sheet(str(path))
    with Image.open(path) as saved:
        assert saved.format == "PNG"
        assert saved.size == sheet_size(len(SEEDS), len(STRENGTHS), (192, 128))


def test_save_button_uses_the_chosen_path(sheet, tmp_path, monkeypatch):
    sheet.set_cell(0, 0, "a", make_image(64, 64))
    path = tmp_path / "chosen.png"
    monkeypatch.setattr(sheet, "choose_sheet_path", lambda: str(path))
    sheet.save_button.click()
    with Image.open(path) as saved:
        assert saved.size == sheet_size(2, 3)
    monkeypatch.setattr(sheet, "choose_sheet_path", lambda: None)
    path.unlink()
    sheet.save_button.click()
    assert not path.exists()


def test_set_grid_again_replaces_the_old_grid(sheet):
    sheet.set_cell(0, 0, "a", make_image(64, 64))
    sheet.set_grid([0.4, 0.6], [7], steps=20)
    assert sheet.cells_filled() == 0
    assert sheet.cell_record(0, 1) is None
    assert sheet.status_label.text() == "0 of 2 done"
