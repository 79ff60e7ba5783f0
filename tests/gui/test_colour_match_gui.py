"""The Generate panel's colour match checkbox, the history card's seam figures and the
difference view's seam overlay."""

from __future__ import annotations

import pytest

from gui.params.generation_panel import GenerationPanel
from tests.tiny_models.images import make_image


@pytest.fixture
def panel(qtbot):
    widget = GenerationPanel()
    qtbot.addWidget(widget)
    widget.set_mask_present(True)
    widget.show()
    return widget


def test_colour_match_is_on_by_default_and_reaches_the_request(panel):
    check = panel.findChild(object, "colorMatchCheck")
    assert check is panel.color_match_check and check.isChecked() and check.isVisible()
    assert panel.state.pass_request(make_image(8, 8)).color_match is None  # auto: masked
    check.setChecked(False)
    assert panel.state.color_match is False
    assert panel.state.pass_request(make_image(8, 8)).color_match is False
    panel.state.color_match = True
    assert check.isChecked()


def test_restoring_a_pass_takes_its_colour_match_only_from_a_masked_pass(panel):
    panel.set_params({"prompt": "plain img2img", "color_match": False})  # no mask: no setting
    assert panel.color_match_check.isChecked()
    panel.set_params({"inpaint_area": "whole", "mask_blur": 4, "color_match": False})
    assert not panel.color_match_check.isChecked()


def _masked_pair():
    from core.imaging import blur_mask
    from tests.tiny_models.images import make_calm_image, make_mask

    left = make_calm_image(96, 96)
    mask = make_mask(96, 96, box=(24, 24, 71, 71))
    darker = left.point(lambda v: max(0, v - 40))
    right = left.copy()
    right.paste(darker, (0, 0), blur_mask(mask, 2))
    return left, right, mask


def test_history_card_shows_the_seam_beside_the_picture_s_own_step():
    from core.history import PassTree
    from gui.history.history_panel import card_text

    left, right, mask = _masked_pair()
    tree = PassTree()
    tree.set_root(left)
    params = {"kind": "inpaint", "color_match": True, "mask_blur": 2}
    record = tree.add("root", right, {**params, "seam_delta_e": 3.14, "seam_delta_e_original": 2.0})
    assert "seam ΔE 3.1 (picture's own 2.0) · colour matched" in card_text(record)
    plain = tree.add("root", right, {"kind": "img2img"})
    assert "seam" not in card_text(plain)


def test_difference_view_shows_the_seam_bands_and_figures(qtbot):
    from PySide6.QtWidgets import QCheckBox, QLabel

    from core.history import PassTree
    from gui.history.history_panel import HistoryPanel

    left, right, mask = _masked_pair()
    tree = PassTree()
    tree.set_root(left)
    tree.add("root", right, {"kind": "inpaint", "mask_blur": 2}, mask=mask)
    panel = HistoryPanel(tree)
    qtbot.addWidget(panel)
    record_id = tree.children("root")[0].id
    dialog = panel.compare("root", record_id)
    qtbot.addWidget(dialog)
    page = dialog.compare_view.difference_page
    assert page.seam["seam_delta_e"] > page.seam["seam_delta_e_original"] + 10
    assert "seam ΔE" in dialog.findChild(QLabel, "differenceReadout").text()
    check = dialog.findChild(QCheckBox, "differenceSeam")
    assert check.isEnabled() and not check.isChecked()
    plain = page._item.pixmap().toImage()
    check.setChecked(True)
    tinted = page._item.pixmap().toImage()
    # (48, 32) lies in the inside band: the core starts a few px below the top edge (blur 2).
    inside_band = tinted.pixelColor(48, 24 + 8).getRgb()[:3]
    assert inside_band != plain.pixelColor(48, 24 + 8).getRgb()[:3]
    assert tinted.pixelColor(48, 48).getRgb() == plain.pixelColor(48, 48).getRgb()  # centre
