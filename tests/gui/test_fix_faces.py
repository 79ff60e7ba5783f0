"""Workflows › Fix faces from the window on a real photo and the tiny model: detect, edit the
boxes on the canvas, run one pass; cancel; "fix faces after each pass" for Generate and batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox

from core.imaging.faces import FaceBox, face_mask
from core.metadata import read_metadata

ENGINE_TIMEOUT = 120_000
ASTRONAUT = Path(__file__).parent.parent / "data" / "faces" / "astronaut.jpg"
ASTRONAUT_FACE = (109, 40, 62, 62)  # Eileen Collins' face in the 320 px photo


@pytest.fixture
def window(qtbot, tiny_model_dir):
    """The real window on the astronaut photo with the tiny model."""
    import main

    win = main.build_window([str(ASTRONAUT), "--model", str(tiny_model_dir)])
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.state.update(steps=4, strength=0.5, prompt="a portrait", seed_locked=True, seed=1)
    yield win
    win.close()


def open_faces(qtbot, window):
    action = next(a for a in window.workflow_menu.actions if a.objectName() == "fixFacesAction")
    assert action.shortcut().toString() == "Ctrl+Shift+F"
    action.trigger()
    dialog = window.workflow_menu.faces_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_detecting(), timeout=20_000)
    return dialog


def view_point(window, x: float, y: float) -> QPoint:
    """The canvas viewport position of picture pixel (x, y)."""
    return window.canvas.mapFromScene(QPointF(x, y))


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)


def passes(window):
    return [r for r in window.tree.records() if not r.is_root]


def test_fix_faces_detects_the_face_and_draws_its_box(window, qtbot):
    dialog = open_faces(qtbot, window)
    overlay = window.canvas.face_boxes
    assert overlay.active
    (box,) = overlay.boxes()
    assert all(abs(a - b) <= 8 for a, b in zip(box.as_list(), ASTRONAUT_FACE, strict=True))
    assert 0.65 < box.confidence <= 1.0
    (item,) = overlay.items()
    assert item.isVisible() and item.scene() is window.canvas.scene()
    assert item.label.text == f"{box.confidence:.0%}"
    assert dialog.box_list.count() == 1 and "Face 1" in dialog.box_list.item(0).text()
    assert dialog.run_button.isEnabled()
    dialog.close()
    assert not overlay.active and not item.isVisible()


def test_a_box_is_removed_with_delete_and_another_drawn_by_drag(window, qtbot):
    dialog = open_faces(qtbot, window)
    overlay, canvas = window.canvas.face_boxes, window.canvas
    x, y, w, h = overlay.boxes()[0].as_list()
    # 1. Click the box (selects it, in the list too), Delete removes it.
    qtbot.mouseClick(
        canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, x + 10, y + 10)
    )
    assert overlay.selected_indices() == [0]
    assert dialog.box_list.item(0).isSelected()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert overlay.boxes() == []
    assert not dialog.run_button.isEnabled() and "no face" in dialog.reason()
    # 2. "Add face", then a drag on the picture draws a new box (no mask is painted).
    dialog.add_button.click()
    assert overlay.add_mode
    start, end = view_point(window, 20, 200), view_point(window, 90, 280)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), pos=view_point(window, 50, 240))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=end)
    (drawn,) = overlay.boxes()
    assert abs(drawn.x - 20) <= 3 and abs(drawn.y - 200) <= 3
    assert abs(drawn.w - 70) <= 4 and abs(drawn.h - 80) <= 4 and drawn.confidence == 1.0
    assert not overlay.add_mode and not dialog.add_button.isChecked()
    assert canvas.mask_image() is None
    assert dialog.box_list.count() == 1 and dialog.run_button.isEnabled()
    window.findChild(QAction, "fixFacesAction").trigger()  # already open: the edits stay
    assert overlay.boxes() == [drawn] and not dialog.is_detecting()
    # 3. The panel's list selects boxes too; Delete there removes them.
    dialog.box_list.clearSelection()
    dialog.box_list.item(0).setSelected(True)
    assert overlay.selected_indices() == [0]
    dialog.activateWindow()
    dialog.box_list.setFocus()
    qtbot.keyClick(dialog.box_list, Qt.Key.Key_Delete)
    assert overlay.boxes() == [] and dialog.box_list.count() == 0


def test_a_selected_box_is_resized_by_its_corner_handle(window, qtbot):
    open_faces(qtbot, window)
    overlay, canvas = window.canvas.face_boxes, window.canvas
    overlay.set_boxes([FaceBox(100, 100, 60, 60)])
    overlay.select([0])
    corner = view_point(window, 159, 159)  # inside the handle at the bottom-right corner
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    qtbot.mouseMove(canvas.viewport(), pos=view_point(window, 190, 180))
    qtbot.mouseRelease(
        canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, 190, 180)
    )
    (box,) = overlay.boxes()
    assert (box.x, box.y) == (100, 100)
    assert abs(box.w - 90) <= 3 and abs(box.h - 80) <= 3


def test_run_files_one_pass_that_changes_only_the_faces(window, qtbot):
    dialog = open_faces(qtbot, window)
    overlay = window.canvas.face_boxes
    boxes = overlay.boxes()
    dialog.prompt_edit.setText("detailed face")
    before = np.asarray(window.tree.current.image)
    dialog.run_button.click()
    assert window.busy and window.workflows.active == "faces"
    assert not dialog.run_button.isEnabled()
    wait_idle(qtbot, window)
    (record,) = passes(window)
    assert record.parent_id == window.tree.root_id
    assert window.tree.current_id == record.id  # applied: the next input
    assert record.params["kind"] == "faces"
    assert [f["box"] for f in record.params["faces"]] == [b.as_list() for b in boxes]
    assert record.strength == 0.35 and record.params["prompt"] == "detailed face"
    assert record.name.startswith("Fix 1 face")
    inside = np.zeros(before.shape[:2], bool)
    for box in boxes:
        inside |= np.asarray(face_mask(record.image.size, box)) > 0
    after = np.asarray(record.image)
    assert np.array_equal(before[~inside], after[~inside])  # byte-identical outside the ellipse
    assert not np.array_equal(before[inside], after[inside])
    assert record.mask is not None  # the union of the ellipses, for the compare view
    assert np.array_equal(np.asarray(record.mask) > 0, inside)
    assert dialog.run_button.isEnabled()  # idle again: another run may follow


def test_cancel_between_faces_leaves_the_history_as_it_was(window, qtbot):
    open_faces(qtbot, window)
    window.canvas.face_boxes.set_boxes([FaceBox(105, 36, 70, 70), FaceBox(10, 200, 60, 60)])
    window.worker.progress.connect(
        lambda progress: window.cancel() if progress.status == "done" else None
    )
    window.workflow_menu.faces_dialog.run()
    assert window.workflows.active == "faces"
    wait_idle(qtbot, window)
    assert passes(window) == []
    assert window.tree.current_id == window.tree.root_id
    assert "Cancelled" in window.progress_bar.format()


def test_fix_faces_after_each_pass_files_one_pass_recording_its_faces(window, qtbot):
    check = window.findChild(QCheckBox, "fixFacesCheck")
    assert check is not None and not check.isChecked()
    check.setChecked(True)
    assert window.state.fix_faces is True
    assert "fix_faces" not in window.state.saved_values()  # not a PassRequest field
    window.state.update(strength=0.25)  # one step: the face stays findable
    assert window.generate()
    wait_idle(qtbot, window)
    (record,) = passes(window)
    assert record.parent_id == window.tree.root_id
    info = record.params["fix_faces"]
    assert isinstance(info["faces"], list)
    assert record.params["kind"] != "faces"  # the pass's own record, plus fix_faces
    assert window.shown_record() is record and window.tree.current_id == window.tree.root_id


def test_the_batch_dialog_fixes_the_faces_of_each_picture(window, qtbot, tmp_path):
    dialog = window.workflow_menu.open_batch_dialog()
    source, target = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "a.jpg").write_bytes(ASTRONAUT.read_bytes())
    dialog.input_edit.setText(str(source))
    dialog.output_edit.setText(str(target))
    check = dialog.findChild(QCheckBox, "batchFixFacesCheck")
    assert check is not None and not dialog.settings().fix_faces
    check.setChecked(True)
    assert dialog.settings().fix_faces
    window.state.update(strength=0.25)
    dialog.start()
    assert window.workflows.active == "batch"
    wait_idle(qtbot, window)
    record = read_metadata(target / "a.png")["record"]
    assert isinstance(record["fix_faces"]["faces"], list)
    dialog.close()
