"""The canvas toolbars: tools, brush, mask edits (loading one from a file too) and overlay
(MaskToolBar) and the strength map's
paint value, step count, legend and map edits (StrengthToolBar).

Both drive a :class:`gui.canvas.canvas.Canvas` and hold no state of their own beyond the widgets;
they follow the canvas's signals when keyboard shortcuts change it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QWidget,
)

from core.errors import UserError
from core.imaging import load_mask
from gui.canvas.canvas import Canvas
from gui.canvas.mask_layer import MAX_BRUSH_SIZE, MIN_BRUSH_SIZE
from gui.canvas.overlay_colors import heatmap_legend_pixmap
from gui.canvas.strength_layer import region_steps
from gui.qt_helpers import named
from gui.qt_images import IMAGE_FILTER

DEFAULT_TOTAL_STEPS = 30


def _add_canvas_actions(
    toolbar: QToolBar, canvas: Canvas, kind: str, specs: tuple[tuple[str, str, str], ...]
) -> None:
    """One action per (name, label, tip) calling ``canvas.<name>_<kind>`` (e.g. ``clear_mask``).

    Each action is named ``<name><Kind>Action`` in camel case ("clearMaskAction").
    """
    camel = "".join(part.capitalize() for part in kind.split("_"))
    for name, label, tip in specs:
        action = named(QAction(label, toolbar), f"{name}{camel}Action")
        action.setToolTip(tip)
        action.triggered.connect(getattr(canvas, f"{name}_{kind}"))
        toolbar.addAction(action)


def _show_value(spin: QSpinBox | QDoubleSpinBox, value: float) -> None:
    """Show ``value`` in ``spin`` without emitting its change signal (the canvas changed it)."""
    if spin.value() == value:
        return
    with QSignalBlocker(spin):
        if isinstance(spin, QSpinBox):
            spin.setValue(round(value))
        else:
            spin.setValue(value)


class MaskToolBar(QToolBar):
    """The tools (brush, eraser, Region strength, pan), brush size and hardness, mask edits and
    overlay.

    ``error`` carries a one-line reason when a mask file cannot be loaded.
    """

    error = Signal(str)

    def __init__(self, canvas: Canvas, parent: QWidget | None = None) -> None:
        super().__init__("Mask", parent)
        self.setObjectName("maskToolBar")
        self.canvas = canvas

        # 1. Tools.
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, label, key, tip in (
            ("brush", "Brush", "B", "Paint the mask: white areas are regenerated"),
            ("eraser", "Eraser", "E", "Erase the mask"),
            (
                "strength",
                "Region strength",
                "R",
                "Paint a Region strength map: each area changes as much as the value painted "
                "there (set in the Region strength toolbar); it replaces the strength slider",
            ),
            ("pan", "Pan", "H", "Drag to pan (middle-drag or Space+drag also pan)"),
        ):
            action = named(QAction(label, self, checkable=True), f"{tool}ToolAction")
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{tip} ({key})")
            action.triggered.connect(lambda _=False, t=tool: self.canvas.set_tool(t))
            self.tool_group.addAction(action)
            self.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["brush"].setChecked(True)
        self.addSeparator()

        # 2. Brush size and hardness.
        self.size_spin = named(QSpinBox(), "brushSizeSpin")
        self.size_spin.setRange(MIN_BRUSH_SIZE, MAX_BRUSH_SIZE)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Brush size ([ and ] change it)")
        self.size_spin.setValue(canvas.brush.size)
        self.size_spin.valueChanged.connect(self._on_size_changed)
        self.hardness_spin = named(QDoubleSpinBox(), "brushHardnessSpin")
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
        _add_canvas_actions(
            self,
            canvas,
            "mask",
            (
                ("clear", "Clear", "Clear the mask"),
                ("invert", "Invert", "Invert the mask"),
                ("fill", "Fill", "Mask the whole picture"),
            ),
        )
        self.load_mask_action = named(QAction("Load mask…", self), "loadMaskAction")
        self.load_mask_action.setToolTip(
            "Load a mask from an image file: its transparency when it has any "
            "(opaque = regenerate), else its brightness (white = regenerate)"
        )
        self.load_mask_action.triggered.connect(self._on_load_mask_triggered)
        self.addAction(self.load_mask_action)
        self.addSeparator()

        # 4. Overlay: visibility, opacity and mode.
        self.visible_action = QAction("Show mask", self, checkable=True, checked=True)
        self.visible_action.setObjectName("maskVisibleAction")
        self.visible_action.setToolTip("Show or hide the mask overlay")
        self.visible_action.toggled.connect(canvas.set_mask_visible)
        self.addAction(self.visible_action)
        self.opacity_slider = named(QSlider(Qt.Orientation.Horizontal), "maskOpacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setFixedWidth(90)
        self.opacity_slider.setToolTip("Mask overlay opacity")
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        self.addWidget(self.opacity_slider)
        self.overlay_combo = named(QComboBox(), "maskOverlayCombo")
        self.overlay_combo.addItems(["tint", "heatmap"])
        self.overlay_combo.setToolTip("Show the mask as a tint or as a strength heatmap")
        self.overlay_combo.currentTextChanged.connect(canvas.set_overlay_mode)
        self.addWidget(self.overlay_combo)
        self._on_opacity_changed(self.opacity_slider.value())
        # Keyboard shortcuts on the canvas ([ ] for size) change the brush: follow them.
        canvas.brush_changed.connect(self.sync_from_canvas)
        canvas.view_changed.connect(self.sync_from_canvas)
        canvas.tool_changed.connect(self._on_tool_changed)

    def load_mask_file(self, path: str | Path) -> bool:
        """Make the file at ``path`` the mask, scaled to the picture: one undo step.

        Returns False (and emits ``error``) when there is no picture or the file is unusable.
        """
        picture = self.canvas.image()
        if picture is None:
            self.error.emit("Open an image before loading a mask.")
            return False
        try:
            mask = load_mask(path, picture.size)
        except UserError as exc:
            self.error.emit(str(exc).strip().splitlines()[0])
            return False
        except (OSError, ValueError) as exc:
            self.error.emit(f"cannot read mask {path}: {exc}".splitlines()[0])
            return False
        self.canvas.set_mask_image(mask, "Load mask")
        return True

    def choose_mask_file(self) -> str | None:
        """Ask for a mask file (None: cancelled)."""
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", "", IMAGE_FILTER)
        return path or None

    def _on_load_mask_triggered(self) -> None:
        path = self.choose_mask_file()
        if path:
            self.load_mask_file(path)

    def sync_from_canvas(self) -> None:
        """Show the canvas's brush values (after keyboard shortcuts changed them)."""
        _show_value(self.size_spin, self.canvas.brush.size)
        _show_value(self.hardness_spin, self.canvas.brush.hardness)

    def _on_size_changed(self, value: int) -> None:
        self.canvas.set_brush_size(value)

    def _on_tool_changed(self, tool: str) -> None:
        action = self.tool_actions.get(tool)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def _on_hardness_changed(self, value: float) -> None:
        self.canvas.brush.hardness = value

    def _on_opacity_changed(self, value: int) -> None:
        self.canvas.set_mask_opacity(value / 100)


class StrengthToolBar(QToolBar):
    """Strength-map widgets for a Canvas: the paint value, its step count, a legend, map edits.

    The "Region strength" tool itself sits in MaskToolBar's tool group (shortcut R).
    """

    def __init__(self, canvas: Canvas, parent: QWidget | None = None) -> None:
        super().__init__("Region strength", parent)
        self.setObjectName("strengthToolBar")
        self.canvas = canvas
        self._total_steps = DEFAULT_TOTAL_STEPS

        self.value_spin = named(QDoubleSpinBox(), "strengthValueSpin")
        self.value_spin.setRange(0.0, 1.0)
        self.value_spin.setSingleStep(0.05)
        self.value_spin.setDecimals(2)
        self.value_spin.setToolTip(
            "Strength painted by the Region strength tool (R) and used by Fill map:\n"
            "0 keeps the input as is, 1 regenerates fully"
        )
        self.value_spin.setValue(canvas.strength_value)
        self.value_spin.valueChanged.connect(canvas.set_strength_value)
        self.steps_label = named(QLabel(), "strengthStepsLabel")
        self.steps_label.setToolTip("Denoising steps a region painted with this value follows")
        self.legend = named(QLabel(), "strengthLegend")
        self.legend.setPixmap(heatmap_legend_pixmap())
        self.legend.setToolTip("Strength map colours: blue = low … red = high (0 = not shown)")
        self.addWidget(QLabel(" Region strength "))
        self.addWidget(self.value_spin)
        self.addWidget(self.steps_label)
        self.addWidget(self.legend)
        self.addSeparator()

        _add_canvas_actions(
            self,
            canvas,
            "strength_map",
            (
                ("fill", "Fill map", "Set the whole strength map to the value"),
                ("clear", "Clear map", "Remove the strength map (no map is used)"),
            ),
        )
        self.visible_action = QAction("Show map", self, checkable=True)
        self.visible_action.setObjectName("strengthMapVisibleAction")
        self.visible_action.setToolTip("Show or hide the strength map overlay")
        self.visible_action.setChecked(canvas.strength_map_visible())
        self.visible_action.toggled.connect(canvas.set_strength_map_visible)
        self.addAction(self.visible_action)

        canvas.strength_map_visible_changed.connect(self.visible_action.setChecked)
        canvas.strength_value_changed.connect(self._on_canvas_value_changed)
        self._update_steps_label()

    def set_total_steps(self, steps: int) -> None:
        """The generation's step count, used by the steps label (default 30)."""
        self._total_steps = max(1, int(steps))
        self._update_steps_label()

    def _on_canvas_value_changed(self, value: float) -> None:
        if abs(self.value_spin.value() - value) > 1e-9:
            _show_value(self.value_spin, value)
        self._update_steps_label()

    def _update_steps_label(self) -> None:
        value, total = self.canvas.strength_value, self._total_steps
        self.steps_label.setText(f" {value:.2f} → {region_steps(total, value)} of {total} steps ")
