"""CompareView: modes, synced side-by-side views, wipe slider, difference image, dialog."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QDialog, QSlider

from gui.history.compare_view import CompareView, difference_image, open_compare_dialog
from tests.tiny_models.images import make_image


@pytest.fixture
def compare(qtbot):
    left = make_image(240, 160, seed=1)
    right = make_image(120, 80, seed=2)  # a different size: scaled to the left for display
    view = CompareView(left, right, "Input", "Pass 1")
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def _grab_color(view, scene_x: float, scene_y: float):
    view.viewport().repaint()
    point = view.mapFromScene(QPointF(scene_x, scene_y))
    return view.viewport().grab().toImage().pixelColor(point)


def test_widgets_and_modes(compare, qtbot):
    assert compare.objectName() == "compareView"
    combo = compare.findChild(QComboBox, "compareMode")
    assert combo is not None and compare.mode() == "side_by_side"
    assert compare.right_was_scaled
    assert compare.right_view.sceneRect() == compare.left_view.sceneRect()

    with qtbot.waitSignal(compare.mode_changed):
        compare.set_mode("wipe")
    assert compare.mode() == "wipe" and combo.currentData() == "wipe"
    assert compare.wipe_view.isVisible() and not compare.left_view.isVisible()

    combo.setCurrentIndex(combo.findData("difference"))
    assert compare.mode() == "difference" and compare.difference_view.isVisible()
    with pytest.raises(ValueError):
        compare.set_mode("flicker")


def test_side_by_side_zoom_and_scroll_are_synced_both_ways(compare):
    compare.left_view.zoom_by(3.0)
    assert compare.right_view.zoom_factor() == pytest.approx(compare.left_view.zoom_factor())

    compare.right_view.zoom_by(1.5)
    assert compare.left_view.zoom_factor() == pytest.approx(compare.right_view.zoom_factor())

    hbar = compare.right_view.horizontalScrollBar()
    assert hbar.maximum() > 0
    hbar.setValue(hbar.maximum() // 3)
    assert compare.left_view.horizontalScrollBar().value() == hbar.value()
    compare.left_view.verticalScrollBar().setValue(7)
    assert compare.right_view.verticalScrollBar().value() == 7


def test_middle_drag_pan_is_synced(compare):
    compare.left_view.zoom_by(4.0)
    viewport = compare.left_view.viewport()
    start = compare.right_view.horizontalScrollBar().value()
    QTest.mousePress(
        viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 200)
    )
    QTest.mouseMove(viewport, QPoint(170, 200))
    QTest.mouseRelease(
        viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, QPoint(170, 200)
    )
    assert compare.right_view.horizontalScrollBar().value() == start + 30


def test_wipe_slider_reveals_left_or_right(compare):
    compare.set_mode("wipe")
    slider = compare.findChild(QSlider, "wipeSlider")
    assert (slider.minimum(), slider.maximum(), slider.value()) == (0, 100, 50)
    left = np.asarray(make_image(240, 160, seed=1))
    right = np.asarray(make_image(120, 80, seed=2).resize((240, 160), Image.Resampling.LANCZOS))

    def close(color, expected):
        return all(abs(a - int(b)) <= 40 for a, b in zip(color.getRgb()[:3], expected, strict=True))

    slider.setValue(100)  # all left
    assert compare.wipe_position() == pytest.approx(1.0)
    assert close(_grab_color(compare.wipe_view, 200, 80), left[80, 200])
    slider.setValue(0)  # all right
    assert close(_grab_color(compare.wipe_view, 40, 80), right[80, 40])
    slider.setValue(50)
    assert close(_grab_color(compare.wipe_view, 40, 80), left[80, 40])
    assert close(_grab_color(compare.wipe_view, 200, 80), right[80, 200])


def test_dragging_in_the_wipe_view_moves_the_divider(compare):
    compare.set_mode("wipe")
    view = compare.wipe_view
    viewport = view.viewport()
    left_button, no_mod = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, left_button, no_mod, view.mapFromScene(QPointF(120, 80)))
    QTest.mouseMove(viewport, view.mapFromScene(QPointF(60, 80)))
    QTest.mouseRelease(viewport, left_button, no_mod, view.mapFromScene(QPointF(60, 80)))
    assert compare.findChild(QSlider, "wipeSlider").value() == pytest.approx(25, abs=2)


def test_difference_is_amplified_absolute_difference(qapp):
    left = Image.new("RGB", (4, 4), (100, 100, 100))
    right = Image.new("RGB", (2, 2), (90, 120, 100))
    diff = difference_image(left, right)
    assert diff.shape == (4, 4, 3)
    assert tuple(diff[0, 0]) == (40, 80, 0)
    assert difference_image(left, Image.new("RGB", (4, 4), (0, 0, 0)))[0, 0, 0] == 255


def test_difference_view_shows_the_difference(compare):
    compare.set_mode("difference")
    same = CompareView(make_image(), make_image(), "a", "b")
    try:
        same.resize(400, 300)
        same.show()
        same.set_mode("difference")
        color = _grab_color(same.difference_view, 48, 32)
        assert color.getRgb()[:3] == (0, 0, 0)
    finally:
        same.close()
        same.deleteLater()


def test_open_compare_dialog_is_non_modal(qtbot):
    dialog = open_compare_dialog(None, make_image(), make_image(seed=5), "A", "B")
    qtbot.addWidget(dialog)
    assert isinstance(dialog, QDialog)
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.findChild(CompareView, "compareView") is not None
    assert "A" in dialog.windowTitle() and "B" in dialog.windowTitle()
