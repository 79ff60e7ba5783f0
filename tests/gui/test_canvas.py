"""Canvas: mask painting with real mouse events, undo, zoom, previews and dirty-rect overlays."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.canvas.canvas import Canvas
from tests.tiny_models.images import make_image, make_mask


def _view_pos(canvas: Canvas, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def _drag(canvas: Canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    viewport = canvas.viewport()
    QTest.mousePress(
        viewport, button, Qt.KeyboardModifier.NoModifier, _view_pos(canvas, *points[0])
    )
    for point in points[1:]:
        QTest.mouseMove(viewport, _view_pos(canvas, *point))
    QTest.mouseRelease(
        viewport, button, Qt.KeyboardModifier.NoModifier, _view_pos(canvas, *points[-1])
    )


def test_canvas_basics(canvas):
    assert canvas.objectName() == "canvas"
    assert canvas.image().size == (200, 120)
    assert canvas.mask_layer.shape == (120, 200)
    assert canvas.mask_image() is None


def test_fast_drag_paints_without_gaps_and_is_one_undo_step(canvas, undo_stack, qtbot):
    canvas.brush.size = 8
    before_count = undo_stack.count()
    with qtbot.waitSignal(canvas.mask_changed):
        # Jumps of ~80 image pixels per move, ten times the brush size.
        _drag(canvas, [(20, 60), (100, 62), (180, 60), (180, 100)])
    mask = canvas.mask_layer.array()
    assert (mask[60, 20:181] > 0).all(), "gap along the horizontal part of the stroke"
    assert (mask[62:101, 180] > 0).all(), "gap along the vertical part of the stroke"
    assert mask[10, 100] == 0 and mask[110, 60] == 0
    assert undo_stack.count() == before_count + 1
    assert undo_stack.undoText() == "Paint mask"
    painted = mask.copy()

    undo_stack.undo()
    assert canvas.mask_layer.is_empty()
    assert canvas.mask_image() is None
    undo_stack.redo()
    np.testing.assert_array_equal(canvas.mask_layer.array(), painted)
    assert canvas.mask_image().mode == "L"


def test_eraser_tool_erases_and_undoes(canvas, undo_stack):
    canvas.fill_mask()
    canvas.set_tool("eraser")
    assert canvas.brush.eraser
    canvas.brush.size = 10
    _drag(canvas, [(30, 40), (170, 40)])
    mask = canvas.mask_layer.array()
    assert (mask[40, 30:171] == 0).all()
    assert mask[100, 100] == 255
    assert undo_stack.undoText() == "Erase mask"
    undo_stack.undo()
    assert (canvas.mask_layer.array() == 255).all()
    canvas.set_tool("brush")
    assert not canvas.brush.eraser


def test_pan_tool_and_middle_drag_do_not_paint(canvas, undo_stack):
    canvas.set_tool("pan")
    _drag(canvas, [(30, 40), (170, 40)])
    _drag(canvas, [(30, 40), (170, 40)], button=Qt.MouseButton.MiddleButton)
    assert canvas.mask_layer.is_empty()
    assert undo_stack.count() == 0
    with pytest.raises(ValueError):
        canvas.set_tool("lasso")


def test_middle_drag_pans_when_zoomed(canvas):
    canvas.set_zoom(4.0)
    hbar = canvas.horizontalScrollBar()
    start = hbar.value()
    viewport = canvas.viewport()
    middle = Qt.MouseButton.MiddleButton
    QTest.mousePress(viewport, middle, Qt.KeyboardModifier.NoModifier, QPoint(250, 180))
    QTest.mouseMove(viewport, QPoint(200, 180))
    QTest.mouseRelease(viewport, middle, Qt.KeyboardModifier.NoModifier, QPoint(200, 180))
    assert hbar.value() == start + 50


def test_clear_invert_fill_are_single_undo_steps(canvas, undo_stack):
    canvas.set_mask_image(make_mask(200, 120))
    assert undo_stack.count() == 1
    original = canvas.mask_layer.array()
    for action, text in (
        (canvas.invert_mask, "Invert mask"),
        (canvas.clear_mask, "Clear mask"),
        (canvas.fill_mask, "Fill mask"),
    ):
        action()
        assert undo_stack.undoText() == text
        undo_stack.undo()
        np.testing.assert_array_equal(canvas.mask_layer.array(), original)
        undo_stack.redo()
        undo_stack.undo()
    canvas.set_mask_image(None)
    assert canvas.mask_image() is None
    undo_stack.undo()
    np.testing.assert_array_equal(canvas.mask_layer.array(), original)


def test_set_mask_image_scales_to_the_image(canvas):
    canvas.set_mask_image(make_mask(100, 60))
    assert canvas.mask_image().size == (200, 120)
    assert canvas.mask_layer.array()[60, 100] == 255


def test_brush_size_keys(canvas):
    canvas.brush.size = 40
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush.size == 50
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush.size == 32
    canvas.brush.size = 1
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush.size == 1
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush.size == 2
    canvas.brush.size = 5000
    assert canvas.brush.size == 1000


def test_zoom_in_out_fit_and_100(canvas, qtbot):
    canvas.fit()
    fitted = canvas.zoom_factor()
    rect = canvas.mapFromScene(QRectF(0, 0, 200, 120)).boundingRect()
    assert canvas.viewport().rect().adjusted(-2, -2, 2, 2).contains(rect)
    assert rect.width() >= canvas.viewport().width() - 10 or rect.height() >= (
        canvas.viewport().height() - 10
    )

    with qtbot.waitSignal(canvas.zoom_changed) as blocker:
        canvas.zoom_in()
    assert canvas.zoom_factor() == pytest.approx(fitted * 1.25)
    assert blocker.args == [pytest.approx(fitted * 1.25)]
    canvas.zoom_out()
    assert canvas.zoom_factor() == pytest.approx(fitted)

    QTest.keyClick(canvas, Qt.Key.Key_1)
    assert canvas.zoom_factor() == pytest.approx(1.0)
    QTest.keyClick(canvas, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom_factor() == pytest.approx(1.25)
    QTest.keyClick(canvas, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom_factor() == pytest.approx(1.0)
    QTest.keyClick(canvas, Qt.Key.Key_F)
    assert canvas.zoom_factor() == pytest.approx(fitted)


def test_wheel_zooms_around_the_cursor(canvas):
    canvas.set_zoom(4.0)  # larger than the viewport, so there is room to keep the anchor
    anchor = _view_pos(canvas, 120, 70)
    scene_before = canvas.mapToScene(anchor)
    event = QWheelEvent(
        QPointF(anchor),
        QPointF(canvas.viewport().mapToGlobal(anchor)),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.zoom_factor() == pytest.approx(5.0)
    scene_after = canvas.mapToScene(anchor)
    assert abs(scene_after.x() - scene_before.x()) <= 1
    assert abs(scene_after.y() - scene_before.y()) <= 1


def test_mask_visibility_key_and_opacity(canvas):
    assert canvas.mask_visible()
    QTest.keyClick(canvas, Qt.Key.Key_M)
    assert not canvas.mask_visible()
    QTest.keyClick(canvas, Qt.Key.Key_M)
    assert canvas.mask_visible()
    canvas.set_mask_opacity(0.25)
    assert canvas.mask_opacity() == pytest.approx(0.25)


def test_overlay_modes(canvas):
    canvas.set_mask_image(make_mask(200, 120))
    canvas.set_overlay_mode("heatmap")
    assert canvas.overlay_mode() == "heatmap"
    with pytest.raises(ValueError):
        canvas.set_overlay_mode("rainbow")
    canvas.set_overlay_mode("tint")


def _center_pixel(canvas: Canvas):
    canvas.viewport().repaint()
    grab = canvas.viewport().grab().toImage()
    point = _view_pos(canvas, 100, 60)
    return grab.pixelColor(point.x(), point.y())


def test_show_preview_of_another_size_then_none(canvas):
    canvas.set_mask_visible(False)
    preview = np.zeros((30, 50, 3), np.uint8)
    preview[..., 0] = 255
    canvas.show_preview(preview)
    assert canvas.is_preview_shown()
    assert canvas._preview_item.sceneBoundingRect() == QRectF(0, 0, 200, 120)
    color = _center_pixel(canvas)
    assert (color.red(), color.green(), color.blue()) == (255, 0, 0)

    canvas.show_preview(None)
    assert not canvas.is_preview_shown()
    expected = canvas.image().getpixel((100, 60))
    color = _center_pixel(canvas)
    assert all(
        abs(a - b) <= 40
        for a, b in zip((color.red(), color.green(), color.blue()), expected, strict=True)
    )


def test_set_image_keeps_or_resets_the_mask(canvas):
    canvas.set_mask_image(make_mask(200, 120))
    canvas.set_image(make_image(200, 120, seed=3))
    assert canvas.mask_image() is not None
    canvas.set_image(make_image(200, 120, seed=4), keep_mask=False)
    assert canvas.mask_image() is None

    canvas.set_mask_image(make_mask(200, 120))
    canvas.set_image(make_image(160, 90))
    assert canvas.mask_layer.shape == (90, 160)
    assert canvas.mask_image() is None
    assert canvas.sceneRect() == QRectF(0, 0, 160, 90)


def test_tablet_pressure_scales_the_brush(canvas, undo_stack):
    device = QPointingDevice(
        "test pen",
        1,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Pen,
        QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
        1,
        3,
    )
    canvas.brush.size = 40
    canvas.brush.hardness = 1.0

    def send(kind, x, y, pressure, buttons):
        pos = QPointF(_view_pos(canvas, x, y))
        event = QTabletEvent(
            kind, device, pos, QPointF(canvas.viewport().mapToGlobal(pos)), pressure,
            0.0, 0.0, 0.0, 0.0, 0.0, Qt.KeyboardModifier.NoModifier,
            Qt.MouseButton.LeftButton, buttons,
        )  # fmt: skip
        QApplication.sendEvent(canvas.viewport(), event)

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.TabletPress, 50, 60, 0.25, left)
    send(QEvent.Type.TabletMove, 150, 60, 0.25, left)
    send(QEvent.Type.TabletRelease, 150, 60, 0.25, Qt.MouseButton.NoButton)
    mask = canvas.mask_layer.array()
    painted_rows = np.flatnonzero(mask[:, 100] > 0)
    assert mask[60, 100] == 255
    assert 6 <= painted_rows.size <= 14  # about 40 px * 0.25 pressure
    assert undo_stack.count() == 1


def test_large_image_strokes_update_only_dirty_rects(qtbot, undo_stack, monkeypatch):
    view = Canvas(undo_stack)
    qtbot.addWidget(view)
    view.resize(600, 600)
    view.show()
    view.set_image(Image.new("RGB", (2048, 2048), (90, 90, 90)))
    layer = view.mask_layer
    overlay = layer.qimage_overlay(view._overlay_color, 1.0, view.overlay_mode())

    rendered = []
    real_render = layer._render_overlay_region

    def spy(rect):
        rendered.append(rect)
        real_render(rect)

    monkeypatch.setattr(layer, "_render_overlay_region", spy)
    changed = []
    layer.changed.connect(changed.append)

    view.brush.size = 64
    step = 30
    layer.begin_stroke(view.brush)
    for i in range(50):
        layer.stroke_to(100 + i * step, 100 + i * step)
    command = layer.end_stroke()

    assert len(changed) == len(rendered) == 51  # one per stroke_to, one closing dab
    limit = step + 64 + 4
    for rect in rendered + changed:
        assert rect.width() <= limit and rect.height() <= limit
    assert layer.qimage_overlay(view._overlay_color, 1.0, view.overlay_mode()) is overlay
    x, y = 100 + 25 * step, 100 + 25 * step
    assert overlay.pixelColor(x, y).alpha() == 255 and layer.array()[y, x] == 255
    # The undo command holds only the stroke's bounding box, not the whole 2048x2048 layer.
    assert command._before.shape == (49 * step + 64 + 2, 49 * step + 64 + 2)


def test_canvas_benchmark_reports_per_event_times():
    from tests.benchmarks.bench_canvas import measure

    result = measure(size=256, moves=5, brush=16)
    assert result["mouse_events"] == 5
    assert 0 < result["mean_ms_per_event"] <= result["max_ms_per_event"]
