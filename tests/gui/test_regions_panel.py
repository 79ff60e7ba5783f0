"""The regions panel: a region from the current mask, its prompt in the request and the project."""

from __future__ import annotations

from core.project import load_project, save_project
from core.testing.images import make_mask
from gui.window.session_io import capture_session
from tests.gui.session_helpers import generate, pixels


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
    path = save_project(tmp_path / "p.i2i", capture_session(window))
    loaded = load_project(path).tree.get(record.id)
    assert [(r.prompt, r.negative) for r in loaded.regions] == [("a blue sky", "fog")]
    assert pixels(loaded.regions[0].mask) == pixels(mask)

    panel.remove_row(row)
    request, _ = window.runner.build_request()
    assert request.regions == ()
