"""Settings dialogs for the workflows: multi-pass, strength sweep, variations and upscale.

Each dialog only collects settings and returns a frozen dataclass (``settings()``, or
``Dialog.ask(parent, steps, strength, …)`` which returns None when cancelled); nothing runs here.
OK stays disabled, with a one-line reason, while the input is invalid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.requests import effective_steps
from core.workflows.sweep import DEFAULT_STRENGTHS
from core.workflows.upscale import UPSCALE_STRENGTH, _check_tiling, _output_size, tile_layout
from gui.qt_helpers import named
from gui.reason_label import ReasonLabel
from gui.window.workflow_settings import (
    MultipassSettings,
    SweepSettings,
    UpscaleSettings,
    VariationsSettings,
    format_strengths,
    parse_strengths,
    steps_text,
    strengths_problem,
)

MULTIPASS_PRESETS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("Progressive", (0.7, 0.4, 0.2)),
    ("Gentle", (0.3, 0.3, 0.2)),
)
UPSCALE_SCALES = (1.5, 2.0, 4.0)
_Settings = TypeVar("_Settings")


def _pixel_spin(name: str, low: int, high: int, step: int, value: int) -> QSpinBox:
    spin = named(QSpinBox(), name)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSuffix(" px")
    return spin


class _WorkflowDialog(QDialog, Generic[_Settings]):
    """OK/Cancel, a reason label that disables OK, and ``ask``; subclasses fill ``self.form``
    and return their settings from ``settings()``."""

    def __init__(
        self, title: str, object_name: str, steps: int, strength: float, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setWindowTitle(title)
        self.setModal(True)
        self.steps = int(steps)
        self.strength = float(strength)
        self.form = QFormLayout()
        self.reason_label = ReasonLabel("reasonLabel")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.buttons)

    @classmethod
    def ask(cls, parent: QWidget | None, *args: Any, **kwargs: Any) -> _Settings | None:
        """Show the dialog modally; its ``settings()`` on OK, None when cancelled."""
        make: Any = cls  # each subclass has its own arguments, then ``parent``
        dialog: _WorkflowDialog[_Settings] = make(*args, parent=parent, **kwargs)
        try:
            accepted = dialog.exec() == QDialog.DialogCode.Accepted
            return dialog.settings() if accepted else None
        finally:
            dialog.deleteLater()

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def reason(self) -> str:
        """Why OK is disabled ("" when the input is valid)."""
        return self.reason_label.text()

    def is_valid(self) -> bool:
        return self.ok_button.isEnabled()

    def accept(self) -> None:
        if self.is_valid():
            super().accept()

    def settings(self) -> _Settings:
        raise NotImplementedError

    def _set_reason(self, reason: str | None) -> None:
        self.reason_label.set_reason(reason)
        self.ok_button.setEnabled(not reason)


class MultipassDialog(_WorkflowDialog[MultipassSettings]):
    """A schedule of strengths, each pass refining the previous one, with colour matching."""

    def __init__(
        self,
        steps: int,
        strength: float,
        schedule: Sequence[float] = MULTIPASS_PRESETS[0][1],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Multi-pass refinement", "multipassDialog", steps, strength, parent)
        self.schedule_edit = named(QLineEdit(format_strengths(schedule)), "scheduleEdit")
        self.schedule_edit.setToolTip(
            "One strength per pass, separated by commas or spaces; each pass works on the last"
        )
        presets = QHBoxLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        for name, values in MULTIPASS_PRESETS:
            label = f"{name} " + " → ".join(f"{value:g}" for value in values)
            button = named(QPushButton(label), f"schedule{name}Button")
            button.clicked.connect(lambda _=False, v=values: self.set_schedule(v))
            presets.addWidget(button)
            self.preset_buttons[name] = button
        self.color_match_check = named(
            QCheckBox("Keep colours (match each pass to the source)"), "colorMatchCheck"
        )
        self.color_match_check.setChecked(True)
        self.color_match_check.setToolTip("Stops the colour drift that repeated passes cause")
        self.preview_label = named(QLabel(), "schedulePreviewLabel")
        self.form.addRow("Schedule", self.schedule_edit)
        self.form.addRow("Presets", presets)
        self.form.addRow("", self.color_match_check)
        self.form.addRow("Passes", self.preview_label)
        self.schedule_edit.textChanged.connect(self._validate)
        self._validate()

    def set_schedule(self, strengths: Sequence[float]) -> None:
        self.schedule_edit.setText(format_strengths(strengths))

    def settings(self) -> MultipassSettings:
        """The schedule and colour option; raises ValueError while the schedule is invalid."""
        return MultipassSettings(
            tuple(parse_strengths(self.schedule_edit.text())), self.color_match_check.isChecked()
        )

    def _validate(self) -> None:
        try:
            values = parse_strengths(self.schedule_edit.text())
        except ValueError as exc:
            self.preview_label.setText("")
            self._set_reason(str(exc))
            return
        lines = [
            f"Pass {number}: {steps_text(value, self.steps)}"
            for number, value in enumerate(values, 1)
        ]
        total = sum(effective_steps(self.steps, value) for value in values)
        lines.append(f"{total} denoising steps in all")
        self.preview_label.setText("\n".join(lines))
        self._set_reason(strengths_problem(values, self.steps))


class SweepDialog(_WorkflowDialog[SweepSettings]):
    """Strengths × seeds: every seed at every strength, shown as one contact sheet."""

    def __init__(
        self,
        steps: int,
        strength: float,
        strengths: Sequence[float] = DEFAULT_STRENGTHS,
        seeds: int = 1,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Strength sweep", "sweepDialog", steps, strength, parent)
        self.strengths_edit = named(QLineEdit(format_strengths(strengths)), "sweepStrengthsEdit")
        self.strengths_edit.setToolTip("Strengths to compare, separated by commas or spaces")
        self.seeds_spin = named(QSpinBox(), "sweepSeedsSpin")
        self.seeds_spin.setRange(1, 8)
        self.seeds_spin.setValue(seeds)
        self.seeds_spin.setToolTip("One row per seed; a row keeps its seed across every strength")
        self.preview_label = named(QLabel(), "sweepPreviewLabel")
        self.total_label = named(QLabel(), "sweepTotalLabel")
        self.form.addRow("Strengths", self.strengths_edit)
        self.form.addRow("Seeds", self.seeds_spin)
        self.form.addRow("Steps", self.preview_label)
        self.form.addRow("Images", self.total_label)
        self.strengths_edit.textChanged.connect(self._validate)
        self.seeds_spin.valueChanged.connect(self._validate)
        self._validate()

    def settings(self) -> SweepSettings:
        """The strengths and seed count; raises ValueError while the strengths are invalid."""
        return SweepSettings(
            tuple(parse_strengths(self.strengths_edit.text())), self.seeds_spin.value()
        )

    def _validate(self) -> None:
        seeds = self.seeds_spin.value()
        try:
            values = parse_strengths(self.strengths_edit.text())
        except ValueError as exc:
            self.preview_label.setText("")
            self.total_label.setText("")
            self._set_reason(str(exc))
            return
        self.preview_label.setText("\n".join(steps_text(value, self.steps) for value in values))
        self.total_label.setText(
            f"{len(values)} strength{'' if len(values) == 1 else 's'} × {seeds} "
            f"seed{'' if seeds == 1 else 's'} = {len(values) * seeds} images"
        )
        self._set_reason(strengths_problem(values, self.steps, unique=True))


class VariationsDialog(_WorkflowDialog[VariationsSettings]):
    """N variations of the current settings at consecutive seeds."""

    def __init__(
        self, steps: int, strength: float, count: int = 4, parent: QWidget | None = None
    ) -> None:
        super().__init__("Variations", "variationsDialog", steps, strength, parent)
        self.count_spin = named(QSpinBox(), "variationsCountSpin")
        self.count_spin.setRange(2, 16)
        self.count_spin.setValue(count)
        self.count_spin.setToolTip("Each variation uses the next seed (seed, seed + 1, …)")
        self.strength_label = named(
            QLabel(f"{steps_text(self.strength, self.steps)} (the current setting)"),
            "variationsStrengthLabel",
        )
        self.form.addRow("Variations", self.count_spin)
        self.form.addRow("Strength", self.strength_label)
        self._set_reason(
            f"strength {self.strength:.2f} runs 0 of {self.steps} steps; raise the strength "
            "or the step count"
            if effective_steps(self.steps, self.strength) == 0
            else None
        )

    def settings(self) -> VariationsSettings:
        return VariationsSettings(self.count_spin.value())


class UpscaleDialog(_WorkflowDialog[UpscaleSettings]):
    """Upscale by a factor, then refine tile by tile at a low strength."""

    def __init__(
        self,
        steps: int,
        strength: float,
        source_size: tuple[int, int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Upscale and refine", "upscaleDialog", steps, strength, parent)
        self.source_size = (int(source_size[0]), int(source_size[1]))
        self.scale_combo = named(QComboBox(), "upscaleScaleCombo")
        for scale in UPSCALE_SCALES:
            self.scale_combo.addItem(f"{scale:g}×", scale)
        self.scale_combo.setCurrentIndex(UPSCALE_SCALES.index(2.0))
        self.strength_spin = named(QDoubleSpinBox(), "upscaleStrengthSpin")
        self.strength_spin.setRange(0.0, 1.0)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setValue(UPSCALE_STRENGTH)
        self.strength_spin.setToolTip(
            f"Refinement strength per tile; keep it low (the main setting is {self.strength:.2f}). "
            "0 gives a plain Lanczos upscale"
        )
        self.tile_spin = _pixel_spin("upscaleTileSpin", 256, 1024, 64, 512)
        self.overlap_spin = _pixel_spin("upscaleOverlapSpin", 0, 256, 8, 64)
        self.overlap_spin.setToolTip("Neighbouring tiles overlap and are blended over this width")
        self.steps_label = named(QLabel(), "upscaleStepsLabel")
        self.output_label = named(QLabel(), "upscaleOutputLabel")
        self.form.addRow("Scale", self.scale_combo)
        self.form.addRow("Strength", self.strength_spin)
        self.form.addRow("", self.steps_label)
        self.form.addRow("Tile", self.tile_spin)
        self.form.addRow("Overlap", self.overlap_spin)
        self.form.addRow("Output", self.output_label)
        self.scale_combo.currentIndexChanged.connect(self._validate)
        self.strength_spin.valueChanged.connect(self._validate)
        self.tile_spin.valueChanged.connect(self._validate)
        self.overlap_spin.valueChanged.connect(self._validate)
        self._validate()

    def scale(self) -> float:
        return float(self.scale_combo.currentData())

    def output_size(self) -> tuple[int, int] | None:
        """The upscaled size, or None when it breaks the engine's limits."""
        try:
            return _output_size(self.source_size, self.scale())
        except UserError:
            return None

    def tile_count(self) -> int:
        """How many tiles the engine will refine (0 for a plain upscale or invalid settings)."""
        size = self.output_size()
        strength = round(self.strength_spin.value(), 2)
        if size is None or effective_steps(self.steps, strength) == 0:
            return 0
        try:
            tile, overlap = _check_tiling(self.tile_spin.value(), self.overlap_spin.value())
        except UserError:
            return 0
        padded = (-(-size[0] // 8) * 8, -(-size[1] // 8) * 8)
        return len(tile_layout(padded, tile, overlap))

    def settings(self) -> UpscaleSettings:
        return UpscaleSettings(
            self.scale(),
            round(self.strength_spin.value(), 2),
            self.tile_spin.value(),
            self.overlap_spin.value(),
        )

    def _validate(self) -> None:
        strength = round(self.strength_spin.value(), 2)
        plain = effective_steps(self.steps, strength) == 0
        self.steps_label.setText(
            f"{strength:.2f} → 0 steps: a plain Lanczos upscale, no model"
            if plain
            else f"{steps_text(strength, self.steps)} per tile"
        )
        width, height = self.source_size
        try:
            out = _output_size(self.source_size, self.scale())
            _check_tiling(self.tile_spin.value(), self.overlap_spin.value())
        except UserError as exc:
            self.output_label.setText(f"{width} × {height} → —")
            self._set_reason(str(exc))
            return
        if plain:
            tiles = "plain upscale"
        else:
            count = self.tile_count()
            tiles = f"{count} tile{'' if count == 1 else 's'}"
        self.output_label.setText(f"{width} × {height} → {out[0]} × {out[1]}, {tiles}")
        self._set_reason(None)
