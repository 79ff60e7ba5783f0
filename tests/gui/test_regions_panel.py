"""The regions panel: a region from the current mask, its prompt in the request and the project."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QPushButton

from core.project import load_project, save_project
from gui.document.session_file import capture, restore
from tests.gui.session_helpers import drag, generate, pixels
from tests.tiny_models.images import make_mask


def test_region_from_current_mask_reaches_the_request_and_project(qtbot, fake_window, tmp_path):
    window = fake_window
    panel = window.findChild(type(window.regions_panel), "regionsPanel")
    assert panel is window.regions_panel
    assert panel.add_from_mask() is None  # nothing painted yet
    window.canvas.set_mask_image(make_mask(96, 64, box=(0, 0, 40, 64)))
    mask = window.canvas.mask_image()
    row = panel.add_from_mask()
    assert row is not None and pixels(row.region_mask) == pixels(mask)
    assert window.canvas.mask_image() is None  # the mask was moved into the region
    row.prompt.setText("a blue sky")
    row.negative.setText("fog")

    request, _ = window.runner.build_request()
    assert [(r.prompt, r.negative) for r in request.regions] == [("a blue sky", "fog")]
    assert request.mask is None and pixels(request.regions[0].mask) == pixels(mask)

    record = generate(qtbot, window)
    assert [r.prompt for r in record.regions] == ["a blue sky"]
    path = save_project(tmp_path / "p.i2i", capture(window.document))
    loaded = load_project(path).tree.get(record.id)
    assert [(r.prompt, r.negative) for r in loaded.regions] == [("a blue sky", "fog")]
    assert pixels(loaded.regions[0].mask) == pixels(mask)

    panel.remove_row(row)
    request, _ = window.runner.build_request()
    assert request.regions == ()


def test_editing_a_region_paints_it_on_the_mask_layer_and_keeps_the_mask_aside(qtbot, fake_window):
    window = fake_window
    panel, canvas = window.regions_panel, window.canvas
    canvas.set_mask_image(make_mask(96, 64, box=(0, 0, 30, 64)))
    row = panel.add_from_mask()
    assert row is not None
    row.prompt.setText("a tree")
    region_before = np.asarray(row.region_mask).copy()
    canvas.set_mask_image(make_mask(96, 64, box=(60, 0, 96, 20)))  # the inpainting mask
    kept = pixels(canvas.mask_image())

    edit = row.findChild(QPushButton, "regionEditButton")
    edit.click()
    assert panel.editing is row and edit.isChecked()
    assert pixels(canvas.mask_image()) == pixels(row.region_mask)  # the region on the layer
    assert not panel.add_button.isEnabled()
    drag(canvas, [(50, 40), (55, 45)])
    count = window.undo_stack.count()
    window.undo_stack.undo()  # the canvas's undo still undoes the stroke
    assert np.array_equal(np.asarray(canvas.mask_image()), region_before)
    window.undo_stack.redo()
    assert window.undo_stack.count() == count
    request, _ = window.runner.build_request()
    assert pixels(request.mask) == kept  # passes keep inpainting with the kept mask
    assert np.asarray(request.regions[0].mask)[42, 52] > 0  # and see the live region

    edit.click()  # finish
    assert panel.editing is None and not edit.isChecked() and panel.add_button.isEnabled()
    region = np.asarray(row.region_mask)
    assert region[42, 52] > 0 and region_before[42, 52] == 0  # the stroke went into the region
    assert np.array_equal(region[:, :30], region_before[:, :30])
    assert pixels(canvas.mask_image()) == kept  # the previous mask is back
    request, _ = window.runner.build_request()
    assert pixels(request.mask) == kept
    assert np.asarray(request.regions[0].mask)[42, 52] > 0


def test_only_one_region_is_edited_at_a_time(qtbot, fake_window):
    window = fake_window
    panel, canvas = window.regions_panel, window.canvas
    canvas.set_mask_image(make_mask(96, 64, box=(0, 0, 30, 64)))
    first = panel.add_from_mask()
    canvas.set_mask_image(make_mask(96, 64, box=(40, 0, 70, 64)))
    second = panel.add_from_mask()
    assert first is not None and second is not None
    assert canvas.mask_image() is None
    first.edit.click()
    canvas.clear_mask()  # wipe the first region
    second.edit.click()  # finishes the first
    assert panel.editing is second and not first.edit.isChecked()
    assert not np.asarray(first.region_mask).any()
    assert pixels(canvas.mask_image()) == pixels(second.region_mask)
    panel.remove_row(second)  # removing the edited region finishes the edit
    assert panel.editing is None and canvas.mask_image() is None


def test_regions_round_trip_through_a_project_file(qtbot, fake_window, tmp_path):
    window = fake_window
    panel, canvas = window.regions_panel, window.canvas
    soft = Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 96), dtype=np.uint8))
    canvas.set_mask_image(soft)
    first = panel.add_from_mask()
    canvas.set_mask_image(make_mask(96, 64, box=(40, 0, 70, 64)))
    second = panel.add_from_mask()
    assert first is not None and second is not None
    first.prompt.setText("a blue sky")
    first.negative.setText("fog")
    second.prompt.setText("")  # kept in the file even without a prompt
    second.negative.setText("blur")
    inpaint = make_mask(96, 64, box=(0, 40, 96, 64))
    canvas.set_mask_image(inpaint)
    first.edit.click()  # saved mid-edit: the region gets the layer, the file the kept mask
    saved = [(pixels(r.mask), r.prompt, r.negative) for r in window.document.regions]
    assert saved[0][0] == pixels(soft)
    kept = pixels(window.document.mask)

    path = save_project(tmp_path / "regions.i2i", capture(window.document))
    session = load_project(path)
    assert pixels(session.mask) == kept
    window.document.regions = ()
    canvas.clear_mask()
    restore(window.document, session, None)
    restored = [(pixels(r.mask), r.prompt, r.negative) for r in window.document.regions]
    assert restored == saved
    pass_regions = window.document.pass_regions()
    assert [(r.prompt, r.negative) for r in pass_regions] == [("a blue sky", "fog")]
    assert panel.editing is None and pixels(canvas.mask_image()) == kept
    assert [row.label.text() for row in panel.rows] == ["Region 1", "Region 2"]
