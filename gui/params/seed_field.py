"""The seed field: a typed seed is locked, an unlocked one reads "random".

The spin box shows ``GenerationParams.seed`` while the seed is locked and the special value
"random" (its minimum, -1) while it is not: each Generate then draws a seed, which the pass's
record and history card show. Typing or stepping to a number locks it; stepping down to
"random" (or unlocking) unlocks it.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QDoubleSpinBox, QToolButton

from core.requests import MAX_SEED
from gui.params.bindings import bind
from gui.params.state import GenerationParams
from gui.qt_helpers import named

RANDOM_TEXT = "random"
RANDOM_VALUE = -1


class SeedField:
    """The seed spin box and its lock button, bound to ``state.seed`` and ``state.seed_locked``."""

    def __init__(self, state: GenerationParams) -> None:
        self._state = state
        self.spin = named(QDoubleSpinBox(), "seedSpin")
        self.spin.setDecimals(0)
        self.spin.setRange(RANDOM_VALUE, MAX_SEED)
        self.spin.setSpecialValueText(RANDOM_TEXT)
        self.spin.setGroupSeparatorShown(False)
        self.spin.setToolTip(
            "random: each Generate draws a new seed (its card shows it). Type a seed to lock it: "
            "same seed + same settings = the same result"
        )
        self.lock_button = named(QToolButton(), "seedLockButton")
        self.lock_button.setCheckable(True)
        bind(
            state,
            "seed",
            self.spin,
            getter=self._typed_seed,
            setter=lambda _value: self._show(),
            signal=self.spin.valueChanged,
        )
        bind(state, "seed_locked", self.lock_button)
        self.spin.valueChanged.connect(self._on_value_changed)  # after the binding's slot
        state.subscribe("seed_locked", self._on_locked_changed)
        self._on_locked_changed(state.seed_locked)

    def _typed_seed(self) -> int:
        value = round(self.spin.value())
        return self._state.seed if value == RANDOM_VALUE else value

    def _show(self) -> None:
        value = self._state.seed if self._state.seed_locked else RANDOM_VALUE
        if round(self.spin.value()) != value:
            with QSignalBlocker(self.spin):
                self.spin.setValue(value)

    def _on_value_changed(self, value: float) -> None:
        self._state.seed_locked = round(value) != RANDOM_VALUE

    def _on_locked_changed(self, locked: bool) -> None:
        self._show()
        self.lock_button.setText("Locked" if locked else "Lock")
        self.lock_button.setToolTip(
            "Seed locked: every pass reuses this seed (click to draw a new one each time)"
            if locked
            else "Seed random: each Generate draws a new one (click to lock the last one)"
        )
