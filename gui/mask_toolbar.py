"""The mask toolbar: the tools (brush, eraser, strength, pan), brush size and hardness, mask edits
and the mask overlay. The strength map's own widgets are in gui.strength_layer.StrengthToolBar.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSlider, QSpinBox, QToolBar

from gui.mask_tools import MAX_BRUSH_SIZE, MIN_BRUSH_SIZE


class MaskToolBar(QToolBar):
    """Drives a :class:`gui.canvas.Canvas`; holds no state of its own beyond the widgets."""

    def __init__(self, canvas, parent=None) -> None:
        super().__init__("Mask", parent)
        self.setObjectName("maskToolBar")
        self.canvas = canvas

        # 1. Tools.
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, label, key, tip in (
            ("brush", "Brush", "B", "Paint the mask: white areas are regenerated"),
            ("eraser", "Eraser", "E", "Erase the mask"),
            ("strength", "Strength", "R", "Paint the strength map with the strength value"),
            ("pan", "Pan", "H", "Drag to pan (middle-drag or Space+drag also pan)"),
        ):
            action = QAction(label, self, checkable=True)
            action.setObjectName(f"{tool}ToolAction")
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{tip} ({key})")
            action.triggered.connect(lambda _=False, t=tool: self.canvas.set_tool(t))
            self.tool_group.addAction(action)
            self.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["brush"].setChecked(True)
        self.addSeparator()

        # 2. Brush size and hardness.
        self.size_spin = QSpinBox(objectName="brushSizeSpin")
        self.size_spin.setRange(MIN_BRUSH_SIZE, MAX_BRUSH_SIZE)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Brush size ([ and ] change it)")
        self.size_spin.setValue(canvas.brush.size)
        self.size_spin.valueChanged.connect(self._on_size_changed)
        self.hardness_spin = QDoubleSpinBox(objectName="brushHardnessSpin")
        self.hardness_spin.setRange(0.0, 1.0)
        self.hardness_spin.setSingleStep(0.1)
        self.hardness_spin.setDecimals(2)
        self.hardness_spin.setToolTip("Brush hardness: lower values paint soft edges")
        self.hardness_spin.setValue(canvas.brush.hardness)
        self.hardness_spin.valueChanged.connect(self._on_hardness_changed)
        self.addWidget(QLabel(" Size "))
        self.addWidget(self.size_spin)
        self.addWidget(QLabel(" Hardness "))
        self.addWidget(self.hardness_spin)
        self.addSeparator()

        # 3. Whole-mask edits (each one undo step, pushed by the canvas).
        for name, label, tip in (
            ("clear", "Clear", "Clear the mask"),
            ("invert", "Invert", "Invert the mask"),
            ("fill", "Fill", "Mask the whole picture"),
        ):
            action = QAction(label, self)
            action.setObjectName(f"{name}MaskAction")
            action.setToolTip(tip)
            action.triggered.connect(getattr(canvas, f"{name}_mask"))
            self.addAction(action)
        self.addSeparator()

        # 4. Overlay: visibility, opacity and mode.
        self.visible_action = QAction("Show mask", self, checkable=True, checked=True)
        self.visible_action.setObjectName("maskVisibleAction")
        self.visible_action.setToolTip("Show or hide the mask overlay")
        self.visible_action.toggled.connect(canvas.set_mask_visible)
        self.addAction(self.visible_action)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, objectName="maskOpacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Mask overlay opacity")
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        self.addWidget(self.opacity_slider)
        self.overlay_combo = QComboBox(objectName="maskOverlayCombo")
        self.overlay_combo.addItems(["tint", "heatmap"])
        self.overlay_combo.setToolTip("Show the mask as a tint or as a strength heatmap")
        self.overlay_combo.currentTextChanged.connect(canvas.set_overlay_mode)
        self.addWidget(self.overlay_combo)
        self._on_opacity_changed(self.opacity_slider.value())
        # Keyboard shortcuts on the canvas ([ ] for size) change the brush: follow them.
        for name, slot in (
            ("brush_changed", self.sync_from_canvas),
            ("view_changed", self.sync_from_canvas),
            ("tool_changed", self._on_tool_changed),
        ):
            signal = getattr(canvas, name, None)
            if signal is not None:
                signal.connect(slot)

    def sync_from_canvas(self) -> None:
        """Show the canvas's brush values (after keyboard shortcuts changed them)."""
        for spin, value in (
            (self.size_spin, self.canvas.brush.size),
            (self.hardness_spin, self.canvas.brush.hardness),
        ):
            if spin.value() != value:
                spin.blockSignals(True)
                spin.setValue(value)
                spin.blockSignals(False)

    def _on_size_changed(self, value: int) -> None:
        if hasattr(self.canvas, "set_brush_size"):
            self.canvas.set_brush_size(value)
        else:
            self.canvas.brush.size = value

    def _on_tool_changed(self, tool: str) -> None:
        action = self.tool_actions.get(tool)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def _on_hardness_changed(self, value: float) -> None:
        self.canvas.brush.hardness = value

    def _on_opacity_changed(self, value: int) -> None:
        self.canvas.set_mask_opacity(value / 100)
