"""MaskLayer strokes, whole-layer edits and their undo commands; image conversions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QImage, QUndoStack

from gui.canvas.mask_layer import BrushSettings, MaskLayer, MaskStrokeCommand
from gui.qt_images import array_to_qimage, pil_to_qimage, qimage_to_pil
from tests.tiny_models.images import make_image


@pytest.fixture
def stack(qapp):
    return QUndoStack()


def _stroke(layer: MaskLayer, points, **brush) -> MaskStrokeCommand | None:
    layer.begin_stroke(BrushSettings(**brush))
    for x, y in points:
        layer.stroke_to(x, y)
    return layer.end_stroke()


def test_brush_settings_defaults_and_clamping():
    brush = BrushSettings()
    assert (brush.size, brush.hardness, brush.eraser, brush.value) == (48, 0.8, False, 1.0)
    brush.size = 0
    assert brush.size == 1
    brush.size = 4000
    assert brush.size == 1000
    brush.hardness = 2
    brush.value = -1
    assert (brush.hardness, brush.value) == (1.0, 0.0)


def test_long_segment_has_no_gaps_and_stays_inside_the_brush(qapp):
    layer = MaskLayer(300, 100)
    command = _stroke(layer, [(10, 50), (290, 50)], size=6, hardness=1.0)
    mask = layer.array()
    assert (mask[50, 10:291] == 255).all()
    assert (mask[:44] == 0).all() and (mask[57:] == 0).all()
    assert command.text() == "Paint mask"


def test_repeated_points_and_pressure_changes_are_safe(qapp):
    layer = MaskLayer(100, 40)
    layer.begin_stroke(BrushSettings(size=20, hardness=1.0))
    for x, pressure in ((10, 1.0), (10, 0.1), (10, 1.0), (60, 0.2), (60, 0.2), (90, 1.0)):
        layer.stroke_to(x, 20, pressure)
    assert layer.end_stroke() is not None
    assert (layer.array()[20, 10:91] == 255).all()


def test_single_click_paints_one_round_dab(qapp):
    layer = MaskLayer(64, 64)
    _stroke(layer, [(32, 32)], size=20, hardness=1.0)
    mask = layer.array()
    assert mask[32, 32] == 255 and mask[32, 22] > 0 and mask[32, 20] == 0
    assert mask[25, 25] > 0 and mask[23, 23] == 0  # round, not square


def test_soft_brush_falls_off_and_hard_brush_does_not(qapp):
    soft, hard = MaskLayer(100, 100), MaskLayer(100, 100)
    _stroke(soft, [(50, 50)], size=40, hardness=0.0)
    _stroke(hard, [(50, 50)], size=40, hardness=1.0)
    soft_row, hard_row = soft.array()[50, 50:75], hard.array()[50, 50:75]
    assert soft_row[0] == 255 and 0 < soft_row[15] < 200
    assert hard_row[15] == 255
    assert (np.diff(soft_row.astype(int)) <= 0).all()


def test_paint_value_uses_max_and_eraser_uses_min(qapp):
    layer = MaskLayer(80, 40)
    _stroke(layer, [(10, 20), (70, 20)], size=10, hardness=1.0, value=0.5)
    assert layer.array()[20, 40] == 128
    _stroke(layer, [(10, 20), (70, 20)], size=10, hardness=1.0, value=0.25)
    assert layer.array()[20, 40] == 128  # a weaker paint never lowers a value
    command = _stroke(layer, [(40, 0), (40, 39)], size=4, hardness=1.0, eraser=True)
    assert layer.array()[20, 40] == 0 and layer.array()[20, 30] == 128
    assert command.text() == "Erase mask"


def test_stroke_command_is_one_step_holding_only_the_touched_box(stack):
    layer = MaskLayer(1000, 800)
    command = _stroke(layer, [(100, 100), (140, 120), (180, 100)], size=10, hardness=1.0)
    painted = layer.array()
    assert command._before.shape[0] < 40 and command._before.shape[1] < 100
    stack.push(command)  # the first redo must not re-apply (or undo) anything
    np.testing.assert_array_equal(layer.array(), painted)
    assert stack.count() == 1
    stack.undo()
    assert layer.is_empty()
    stack.redo()
    np.testing.assert_array_equal(layer.array(), painted)


def test_stroke_without_change_returns_no_command(qapp):
    layer = MaskLayer(50, 50)
    assert _stroke(layer, [(10, 10), (40, 40)], eraser=True) is None
    assert layer.end_stroke() is None
    assert _stroke(layer, [(-100, -100)]) is None  # entirely outside


def test_whole_layer_edits_undo_and_redo(stack):
    layer = MaskLayer(40, 30)
    _stroke(layer, [(10, 10)], size=8)
    original = layer.array()
    expected = {
        "Fill mask": np.full((30, 40), 255, np.uint8),
        "Clear mask": np.zeros((30, 40), np.uint8),
        "Invert mask": 255 - original,
    }
    for edit in (layer.fill, layer.clear, layer.invert):
        command = edit()
        stack.push(command)
        np.testing.assert_array_equal(layer.array(), expected[command.text()])
        stack.undo()
        np.testing.assert_array_equal(layer.array(), original)
        stack.redo()
        np.testing.assert_array_equal(layer.array(), expected[command.text()])
        stack.undo()


def test_set_array_accepts_bool_and_float_and_new_sizes(stack):
    layer = MaskLayer(20, 10)
    stack.push(layer.set_array(np.ones((10, 20), bool)))
    assert (layer.array() == 255).all()
    stack.push(layer.set_array(np.full((6, 8), 0.5)))
    assert layer.shape == (6, 8) and layer.array()[0, 0] == 128
    stack.undo()
    assert layer.shape == (10, 20) and (layer.array() == 255).all()
    with pytest.raises(ValueError):
        layer.set_array(np.zeros((3, 3, 3)))


def test_stale_commands_after_a_reset_do_nothing(stack):
    layer = MaskLayer(40, 40)
    stack.push(_stroke(layer, [(20, 20)], size=10))
    layer.reset(60, 60)
    stack.undo()
    assert layer.shape == (60, 60) and layer.is_empty()


def test_resize_pil_and_emptiness(qapp):
    layer = MaskLayer(40, 20)
    assert layer.is_empty() and layer.to_pil().mode == "L"
    layer.fill()
    layer.resize(80, 40)
    assert layer.shape == (40, 80) and (layer.array() == 255).all()
    copy = layer.array()
    copy[:] = 0
    assert not layer.is_empty()  # array() is a copy


def test_changed_signal_carries_the_dirty_rect(qapp):
    layer = MaskLayer(200, 200)
    rects = []
    layer.changed.connect(rects.append)
    layer.begin_stroke(BrushSettings(size=10, hardness=1.0))
    layer.stroke_to(100, 100)
    layer.stroke_to(120, 100)
    assert len(rects) == 2
    assert all(rect.width() <= 40 and rect.height() <= 14 for rect in rects)
    assert rects[1].right() >= 120


def test_overlay_tint_heatmap_and_dirty_updates(qapp):
    layer = MaskLayer(30, 20)
    layer.set_array(np.tile(np.linspace(0, 255, 30).astype(np.uint8), (20, 1)))
    tint = layer.qimage_overlay(QColor(255, 0, 0), 0.5)
    assert tint.format() == QImage.Format.Format_ARGB32 and tint.size().toTuple() == (30, 20)
    assert tint.pixelColor(0, 0).alpha() == 0
    right = tint.pixelColor(29, 0)
    assert (right.red(), right.green(), right.alpha()) == (255, 0, 128)

    heat = layer.qimage_overlay(mode="heatmap", opacity=1.0)
    low, high = heat.pixelColor(3, 5), heat.pixelColor(29, 5)
    assert heat.pixelColor(0, 5).alpha() == 0
    assert low.blue() > low.red() and high.red() > high.blue()

    layer.fill()
    again = layer.qimage_overlay(mode="heatmap", opacity=1.0)
    assert again is heat and again.pixelColor(0, 5).red() == 255
    with pytest.raises(ValueError):
        layer.qimage_overlay(mode="sparkles")


def test_qimage_conversions_round_trip(qapp):
    image = make_image(33, 17)  # odd width: QImage rows are padded
    qimage = pil_to_qimage(image)
    assert qimage.format() == QImage.Format.Format_RGB888
    np.testing.assert_array_equal(np.asarray(qimage_to_pil(qimage)), np.asarray(image))

    gray = image.convert("L")
    qgray = pil_to_qimage(gray)
    assert qgray.format() == QImage.Format.Format_Grayscale8
    assert qimage_to_pil(qgray).mode == "L"
    np.testing.assert_array_equal(np.asarray(qimage_to_pil(qgray)), np.asarray(gray))

    rgba = image.convert("RGBA")
    assert pil_to_qimage(rgba).format() == QImage.Format.Format_RGBA8888
    assert qimage_to_pil(pil_to_qimage(rgba)).mode == "RGB"
    assert pil_to_qimage(image.convert("P")).format() == QImage.Format.Format_RGB888

    arr = np.asarray(image).copy()
    from_array = array_to_qimage(arr)
    arr[:] = 0  # the QImage owns its own copy
    np.testing.assert_array_equal(np.asarray(qimage_to_pil(from_array)), np.asarray(image))
    argb = QImage(4, 2, QImage.Format.Format_ARGB32)
    argb.fill(QColor(10, 20, 30))
    assert qimage_to_pil(argb).getpixel((3, 1)) == (10, 20, 30)
    with pytest.raises(ValueError):
        array_to_qimage(np.zeros((4, 4, 2), np.uint8))


def test_pil_to_qimage_does_not_share_memory(qapp):
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    qimage = pil_to_qimage(image)
    del image
    assert qimage.pixelColor(7, 7).getRgb()[:3] == (1, 2, 3)
