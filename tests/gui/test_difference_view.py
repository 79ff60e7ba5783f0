"""The compare view's difference page (gain, scale bar, outside-the-mask toggle, readout) and the
history card's drift warning."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel

from core.history import PassTree
from gui.history.compare_view import CompareView
from gui.history.history_panel import HistoryPanel


def _pair():
    left = Image.new("RGB", (40, 20), (90, 90, 90))
    right = left.copy()
    right.paste((95, 90, 90), (0, 0, 10, 10))  # 100 changed pixels, a small change (5)
    mask = Image.new("L", (40, 20), 0)
    mask.paste(255, (5, 0, 40, 20))  # 50 of them inside the mask
    return left, right, mask


@pytest.fixture
def view(qtbot):
    left, right, mask = _pair()
    widget = CompareView(left, right, "Original", "Pass 1", mask=mask)
    qtbot.addWidget(widget)
    widget.set_mode("difference")
    return widget


def _heat(view) -> np.ndarray:
    pixmap = view.difference_page._item.pixmap()
    image = pixmap.toImage()
    return np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(40)] for y in range(20)])


def test_readout_shows_the_figures(view):
    readout = view.findChild(QLabel, "differenceReadout")
    assert readout is not None
    text = readout.text()
    assert "Changed: 100 px" in text
    assert "inside the mask 50" in text and "outside 50" in text
    assert "max 5" in text and "ΔE" in text


def test_gain_amplifies_and_scale_bar_follows(view):
    combo = view.findChild(QComboBox, "differenceGain")
    assert [combo.itemData(i) for i in range(combo.count())] == [1, 2, 4, 8, 16, 32]
    scale = view.findChild(QLabel, "differenceScale")
    assert scale.pixmap() is not None and not scale.pixmap().isNull()
    view.difference_page.set_gain(1)
    weak = _heat(view)[0, 0].sum()
    view.difference_page.set_gain(32)
    assert _heat(view)[0, 0].sum() > weak > 0
    assert "× 32" in view.findChild(QLabel, "compareDifferenceTitle").text()


def test_outside_only_hides_changes_inside_the_mask(view):
    toggle = view.findChild(QCheckBox, "differenceOutside")
    assert toggle.isEnabled()
    assert _heat(view)[0, 7].any()  # inside the mask, changed
    toggle.setChecked(True)
    heat = _heat(view)
    assert not heat[0, 7].any() and heat[0, 2].any()


def test_without_a_mask_the_toggle_is_off(qtbot):
    left, right, _ = _pair()
    widget = CompareView(left, right, "a", "b")
    qtbot.addWidget(widget)
    toggle = widget.findChild(QCheckBox, "differenceOutside")
    assert not toggle.isEnabled()
    widget.difference_page.set_outside_only(True)
    assert not toggle.isChecked()
    assert "inside the mask" not in widget.findChild(QLabel, "differenceReadout").text()


def _drift_tree():
    tree = PassTree()
    root = Image.new("RGB", (40, 20), (90, 90, 90))
    tree.set_root(root)
    mask = Image.new("L", (40, 20), 0)
    mask.paste(255, (0, 0, 20, 20))
    inpainted = root.copy()
    inpainted.paste((200, 50, 50), (0, 0, 20, 20))
    p1 = tree.add("root", inpainted, {"kind": "inpaint", "mask_blur": 0}, name="Face", mask=mask)
    repainted = inpainted.copy()
    repainted.paste((0, 0, 200), (0, 0, 20, 20))
    tree.add(p1.id, repainted, {"kind": "inpaint", "mask_blur": 0}, mask=mask)  # p2: fine
    drifted = inpainted.copy()
    drifted.paste((10, 200, 10), (25, 0, 40, 20))
    tree.add(p1.id, drifted, {"kind": "img2img"})  # p3: changed the kept half
    return tree


def test_history_card_warns_of_drift_only_for_the_drifting_pass(qtbot):
    tree = _drift_tree()
    panel = HistoryPanel(tree)
    qtbot.addWidget(panel)
    warnings = {
        record_id: panel.view.itemWidget(panel.item(record_id), 1)
        for record_id in ("root", "p1", "p2", "p3")
    }
    assert [k for k, w in warnings.items() if w is not None] == ["p3"]
    badge = warnings["p3"]
    assert badge.objectName() == "driftWarning" and "Face" in badge.toolTip()
    assert len(panel.findChildren(QLabel, "driftWarning")) == 1


def test_history_compare_passes_the_later_mask(qtbot):
    tree = _drift_tree()
    panel = HistoryPanel(tree)
    qtbot.addWidget(panel)
    dialog = panel.compare("p1", "p2")
    qtbot.addWidget(dialog)
    assert dialog.findChild(QCheckBox, "differenceOutside").isEnabled()
    readout = dialog.findChild(QLabel, "differenceReadout").text()
    assert "inside the mask 400" in readout and "outside 0" in readout
