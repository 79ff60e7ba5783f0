"""Workflows › Expand canvas…: the four margins, the blend band, the strength and the new size."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QWidget

from core.errors import UserError
from core.requests import effective_steps
from core.workflows.outpaint import (
    DEFAULT_BAND,
    MAX_BAND,
    MAX_MARGIN,
    OUTPAINT_STRENGTH,
    Margins,
    check_outpaint,
)
from gui.qt_helpers import named
from gui.window.workflow_dialogs import _pixel_spin, _WorkflowDialog
from gui.window.workflow_settings import steps_text

SIDES = ("left", "right", "top", "bottom")


@dataclass(frozen=True)
class ExpandSettings:
    """Pixels added per side (left, right, top, bottom), the soft band and the strength."""

    sides: tuple[int, int, int, int]
    band: int
    strength: float


class ExpandDialog(_WorkflowDialog[ExpandSettings]):
    """Grow the picture on any side; the new area (and a band into the old one) is repainted."""

    def __init__(
        self,
        steps: int,
        strength: float,
        source_size: tuple[int, int],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Expand canvas", "expandDialog", steps, strength, parent)
        self.source_size = (int(source_size[0]), int(source_size[1]))
        self.side_spins = {}
        for side in SIDES:
            spin = _pixel_spin(f"expand{side.title()}Spin", 0, MAX_MARGIN, 64, 0)
            spin.valueChanged.connect(self._validate)
            self.side_spins[side] = spin
            self.form.addRow(side.title(), spin)
        self.band_spin = _pixel_spin("expandBandSpin", 0, MAX_BAND, 8, DEFAULT_BAND)
        self.band_spin.setToolTip("How far the repaint reaches into the old picture, fading out")
        self.strength_spin = named(QDoubleSpinBox(), "expandStrengthSpin")
        self.strength_spin.setRange(0.0, 1.0)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setValue(OUTPAINT_STRENGTH)
        self.steps_label = named(QLabel(), "expandStepsLabel")
        self.size_label = named(QLabel(), "expandSizeLabel")
        self.form.addRow("Blend band", self.band_spin)
        self.form.addRow("Strength", self.strength_spin)
        self.form.addRow("", self.steps_label)
        self.form.addRow("New size", self.size_label)
        self.band_spin.valueChanged.connect(self._validate)
        self.strength_spin.valueChanged.connect(self._validate)
        self._validate()

    def margins(self) -> Margins:
        return Margins(*(self.side_spins[side].value() for side in SIDES))

    def settings(self) -> ExpandSettings:
        m = self.margins()
        sides = (m.left, m.right, m.top, m.bottom)
        return ExpandSettings(sides, self.band_spin.value(), round(self.strength_spin.value(), 2))

    def _validate(self) -> None:
        strength = round(self.strength_spin.value(), 2)
        self.steps_label.setText(steps_text(strength, self.steps))
        width, height = self.source_size
        margins = self.margins()
        new_w, new_h = margins.new_size(self.source_size)
        self.size_label.setText(f"{width} × {height} → {new_w} × {new_h}")
        try:
            check_outpaint(self.source_size, margins, self.band_spin.value())
        except UserError as exc:
            self._set_reason(str(exc))
            return
        if effective_steps(self.steps, strength) == 0:
            self._set_reason(f"strength {strength:.2f} runs 0 steps: raise it")
            return
        self._set_reason(None)
