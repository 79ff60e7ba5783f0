"""A graphics view that zooms about a point and pans: the base of the canvas and the compare views.

Zoom is a plain scale transform (no rotation), clamped to MIN_ZOOM..MAX_ZOOM; scroll bars are hidden
and scrolling happens by panning. ``view_changed`` follows every zoom and scroll, so views showing
the same scene size can copy each other's transform and scroll values.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QPainter, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM = 0.02
MAX_ZOOM = 64.0
ZOOM_STEP = 1.25


class ZoomView(QGraphicsView):
    """Wheel zoom about the cursor, ``set_zoom``/``fit``, and panning through ``_pan_to``."""

    zoom_changed = Signal(float)
    view_changed = Signal()

    def __init__(self, scene: QGraphicsScene | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if scene is not None:
            self.setScene(scene)
        self._pan_last: QPointF | None = None  # the pointer position of a pan in progress
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.horizontalScrollBar().valueChanged.connect(self._on_scroll_changed)
        self.verticalScrollBar().valueChanged.connect(self._on_scroll_changed)

    # ---- zoom ------------------------------------------------------------------------------
    def zoom_factor(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Set the zoom, keeping the scene point under ``anchor`` (viewport pixels) in place."""
        factor = min(max(float(factor), MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        scene_point = self._to_scene(anchor)
        self.setTransform(QTransform.fromScale(factor, factor))
        moved = self.viewportTransform().map(scene_point) - anchor
        self._scroll_by(moved.x(), moved.y())
        self._on_zoom_applied()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom_factor() * factor, anchor)

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP, self._cursor_anchor())

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP, self._cursor_anchor())

    def zoom_100(self) -> None:
        """Show the picture at 1:1, keeping the view centre."""
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Fit the whole scene rect in the view."""
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        factor = min(max(self.zoom_factor(), MIN_ZOOM), MAX_ZOOM)
        self.setTransform(QTransform.fromScale(factor, factor))
        self.centerOn(rect.center())
        self._on_zoom_applied()

    def scene_display_size(self) -> tuple[int, int] | None:
        """The scene rect's (the picture's) size on screen in device pixels; None when empty."""
        rect = self.sceneRect()
        if rect.isEmpty():
            return None
        scale = self.transform().m11() * self.devicePixelRatioF()
        return max(1, round(rect.width() * scale)), max(1, round(rect.height() * scale))

    def scene_center(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def _on_zoom_applied(self) -> None:
        self.zoom_changed.emit(self.zoom_factor())
        self.view_changed.emit()

    # ---- pan -------------------------------------------------------------------------------
    def _pan_to(self, view_pos: QPointF) -> None:
        """Scroll by the pointer's move since the last pan position (which becomes ``view_pos``)."""
        last, self._pan_last = self._pan_last, QPointF(view_pos)
        if last is not None:
            delta = view_pos - last
            self._scroll_by(-delta.x(), -delta.y())

    def _scroll_by(self, dx: float, dy: float) -> None:
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        hbar.setValue(hbar.value() + round(dx))
        vbar.setValue(vbar.value() + round(dy))

    def _on_scroll_changed(self, _value: int) -> None:
        self.view_changed.emit()

    # ---- coordinates -----------------------------------------------------------------------
    def _to_scene(self, view_pos: QPointF) -> QPointF:
        return self.viewportTransform().inverted()[0].map(QPointF(view_pos))

    def _cursor_anchor(self) -> QPointF | None:
        pos = self.viewport().mapFromGlobal(QCursor.pos())
        return QPointF(pos) if self.viewport().rect().contains(pos) else None

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP**steps, event.position())
        event.accept()
