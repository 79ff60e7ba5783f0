"""The strength-map layer, the canvas's "strength" tool and the StrengthToolBar."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDoubleSpinBox, QLabel

from gui.canvas.canvas import Canvas
from gui.canvas.mask_layer import BrushSettings
from gui.canvas.strength_layer import StrengthLayer, region_steps
from gui.canvas.toolbars import MaskToolBar, StrengthToolBar
from tests.tiny_models.images import make_image, make_mask


@pytest.fixture
def canvas(canvas):
    canvas.brush.size = 10
    canvas.brush.hardness = 1.0
    return canvas


@pytest.fixture
def toolbar(qtbot, canvas):
    bar = StrengthToolBar(canvas)
    qtbot.addWidget(bar)
    return bar


def _view_pos(canvas: Canvas, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def _drag(canvas: Canvas, points) -> None:
    viewport, left, none = canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    QTest.mousePress(viewport, left, none, _view_pos(canvas, *points[0]))
    for point in points[1:]:
        QTest.mouseMove(viewport, _view_pos(canvas, *point))
    QTest.mouseRelease(viewport, left, none, _view_pos(canvas, *points[-1]))


def _paint(canvas: Canvas, value: float, points) -> None:
    canvas.set_tool("strength")
    canvas.set_strength_value(value)
    _drag(canvas, points)


def test_hard_brush_sets_the_exact_value_inside_the_stroke_only(canvas, undo_stack):
    assert canvas.strength_map_image() is None
    _paint(canvas, 0.6, [(30, 60), (170, 60)])
    strength = canvas.strength_layer.array()
    assert (strength[58:63, 30:171] == round(0.6 * 255)).all()
    assert strength.max() == 153  # the 1 px anti-aliased rim is lower, never higher
    assert not strength[:53].any() and not strength[68:].any()
    assert strength[10, 100] == 0 and strength[60, 5] == 0
    image = canvas.strength_map_image()
    assert image.mode == "L" and image.size == (200, 120)
    np.testing.assert_array_equal(np.asarray(image), strength)
    assert undo_stack.count() == 1
    assert undo_stack.undoText() == "Paint strength map"
    assert canvas.mask_layer.is_empty() and canvas.mask_image() is None


def test_painting_sets_toward_the_value_instead_of_taking_the_max(canvas):
    canvas.set_strength_value(0.8)
    canvas.fill_strength_map()
    _paint(canvas, 0.2, [(30, 60), (170, 60)])
    strength = canvas.strength_layer.array()
    assert strength[60, 100] == round(0.2 * 255)
    assert strength[10, 100] == round(0.8 * 255)
    _paint(canvas, 1.0, [(100, 60)])
    assert canvas.strength_layer.array()[60, 100] == 255


def test_soft_edges_blend_from_the_previous_value():
    layer = StrengthLayer(100, 40)
    layer.set_array(np.full((40, 100), 200, np.uint8))
    layer.begin_stroke(BrushSettings(size=30, hardness=0.0, value=0.0))
    for x in (20, 40, 60, 40):  # overlapping dabs: coverage is the max, not a sum
        layer.stroke_to(x, 20)
    layer.end_stroke()
    row = layer.array()[20].astype(int)
    assert row[40] == 0 and row[95] == 200
    edge = row[60:80]
    assert (np.diff(edge) >= 0).all() and 0 < edge[10] < 200


def test_map_is_none_before_painting_and_after_clear(canvas, toolbar, undo_stack):
    assert canvas.strength_map_image() is None
    toolbar.findChild(QAction, "clearStrengthMapAction").trigger()
    assert undo_stack.count() == 0  # clearing no map changes nothing
    _paint(canvas, 0.5, [(100, 60)])
    assert canvas.strength_map_image() is not None
    toolbar.findChild(QAction, "clearStrengthMapAction").trigger()
    assert canvas.strength_map_image() is None
    assert undo_stack.undoText() == "Clear strength map"
    undo_stack.undo()
    assert canvas.strength_layer.array()[60, 100] == 128
    canvas.set_strength_map_image(None)
    assert canvas.strength_map_image() is None


def test_undo_restores_the_map_and_emits_changed(canvas, undo_stack, qtbot):
    _paint(canvas, 0.4, [(50, 60), (150, 60)])
    first = canvas.strength_layer.array()
    with qtbot.waitSignal(canvas.strength_map_changed):
        _paint(canvas, 0.9, [(100, 20), (100, 100)])
    assert undo_stack.count() == 2
    with qtbot.waitSignal(canvas.strength_map_changed):
        undo_stack.undo()
    np.testing.assert_array_equal(canvas.strength_layer.array(), first)
    with qtbot.waitSignal(canvas.strength_map_changed):
        undo_stack.undo()
    assert canvas.strength_map_image() is None  # undoing the first stroke removes the map
    undo_stack.redo()
    np.testing.assert_array_equal(canvas.strength_map_image(), first)


def test_changed_is_emitted_once_per_stroke(canvas):
    emitted = []
    canvas.strength_map_changed.connect(lambda: emitted.append(1))
    _paint(canvas, 0.5, [(20, 60), (60, 60), (100, 60), (140, 60), (180, 60)])
    assert len(emitted) == 1


def test_fill_sets_every_pixel_and_zero_is_a_real_map(canvas, toolbar, undo_stack):
    canvas.set_strength_value(0.3)
    toolbar.findChild(QAction, "fillStrengthMapAction").trigger()
    assert (canvas.strength_layer.array() == round(0.3 * 255)).all()
    assert undo_stack.undoText() == "Fill strength map"
    canvas.set_strength_value(0.0)
    canvas.fill_strength_map()
    zero = canvas.strength_map_image()
    assert zero is not None and not np.asarray(zero).any()  # "keep everything", not "no map"
    count = undo_stack.count()
    canvas.fill_strength_map()
    assert undo_stack.count() == count  # nothing changed: no empty undo step


def test_steps_label_and_value_binding(canvas, toolbar):
    spin = toolbar.findChild(QDoubleSpinBox, "strengthValueSpin")
    label = toolbar.findChild(QLabel, "strengthStepsLabel")
    assert toolbar.findChild(QLabel, "strengthLegend").pixmap().width() > 0
    spin.setValue(0.6)
    assert canvas.strength_value == pytest.approx(0.6)
    assert "0.60 → 18 of 30 steps" in label.text()
    toolbar.set_total_steps(20)
    assert "12 of 20 steps" in label.text()
    canvas.set_strength_value(0.25)
    assert spin.value() == pytest.approx(0.25)
    assert "0.25 → 5 of 20 steps" in label.text()
    assert region_steps(30, 0.6) == 18 and region_steps(30, 0.0) == 0 and region_steps(30, 1) == 30


def test_map_resets_for_another_size_and_is_kept_for_the_same(canvas, qtbot):
    _paint(canvas, 0.7, [(100, 60)])
    painted = canvas.strength_layer.array()
    canvas.set_image(make_image(200, 120, seed=3))
    np.testing.assert_array_equal(canvas.strength_map_image(), painted)
    with qtbot.waitSignal(canvas.strength_map_changed):
        canvas.set_image(make_image(160, 90))
    assert canvas.strength_layer.shape == (90, 160)
    assert canvas.strength_map_image() is None
    _paint(canvas, 0.7, [(80, 45)])
    canvas.set_image(make_image(160, 90, seed=4), keep_mask=False)
    assert canvas.strength_map_image() is None


def test_undo_after_a_size_reset_restores_nothing(canvas, undo_stack):
    _paint(canvas, 0.7, [(100, 60)])
    canvas.set_image(make_image(160, 90))
    undo_stack.undo()
    assert canvas.strength_map_image() is None
    assert canvas.strength_layer.shape == (90, 160)


def test_mask_and_map_do_not_touch_each_other(canvas):
    _paint(canvas, 0.5, [(30, 60), (170, 60)])
    assert canvas.mask_layer.is_empty()
    strength = canvas.strength_layer.array()
    canvas.set_tool("brush")
    _drag(canvas, [(100, 10), (100, 110)])
    assert canvas.mask_layer.array()[30, 100] == 255
    np.testing.assert_array_equal(canvas.strength_layer.array(), strength)
    canvas.set_tool("eraser")  # the eraser acts on the mask only
    _drag(canvas, [(30, 60), (170, 60)])
    assert canvas.mask_layer.array()[60, 100] == 0
    np.testing.assert_array_equal(canvas.strength_layer.array(), strength)
    canvas.fill_mask()
    canvas.clear_strength_map()
    assert (canvas.mask_layer.array() == 255).all()


def test_set_strength_map_image_scales_and_is_one_undo_step(canvas, undo_stack):
    canvas.set_strength_map_image(make_mask(100, 60))
    image = canvas.strength_map_image()
    assert image.size == (200, 120) and image.getpixel((100, 60)) == 255
    assert undo_stack.undoText() == "Set strength map"
    undo_stack.undo()
    assert canvas.strength_map_image() is None
    canvas.set_strength_map_image(Image.new("L", (200, 120), 0))
    assert canvas.strength_map_image() is not None


def test_overlay_visibility_and_toolbar_actions(canvas, qtbot):
    mask_bar = MaskToolBar(canvas)
    strength_bar = StrengthToolBar(canvas)
    qtbot.addWidget(mask_bar)
    qtbot.addWidget(strength_bar)
    tool_action = mask_bar.findChild(QAction, "strengthToolAction")
    assert tool_action.shortcut().toString() == "R"
    tool_action.trigger()
    assert canvas.tool() == "strength"
    canvas.set_tool("brush")
    assert mask_bar.tool_actions["brush"].isChecked()
    canvas.set_tool("strength")
    assert tool_action.isChecked()

    visible = strength_bar.findChild(QAction, "strengthMapVisibleAction")
    assert visible.isChecked() and canvas.strength_map_visible()
    visible.trigger()
    assert not canvas.strength_map_visible() and not canvas._strength_item.isVisible()
    _paint(canvas, 1.0, [(100, 60)])  # painting shows the map again
    assert canvas.strength_map_visible() and visible.isChecked()
    overlay = canvas._strength_item.image()
    assert overlay.pixelColor(100, 60).red() == 255 and overlay.pixelColor(100, 60).blue() == 0
    assert overlay.pixelColor(10, 10).alpha() == 0


def test_tablet_like_pressure_narrows_the_stroke():
    layer = StrengthLayer(200, 100)
    layer.begin_stroke(BrushSettings(size=40, hardness=1.0, value=0.5))
    layer.stroke_to(50, 50, 0.25)
    layer.stroke_to(150, 50, 0.25)
    assert layer.end_stroke() is not None
    painted_rows = np.flatnonzero(layer.array()[:, 100] > 0)
    assert layer.array()[50, 100] == 128 and 6 <= painted_rows.size <= 14
