"""Live mode's step count and guidance for the loaded model, learnt from its pass records.

A few-step model (the engine names it in the record's ``few_step``) runs live at a few-step
count with guidance off; any other model at a low step count, with a note that a few-step model
would be faster. Before the first pass of a model nothing is known yet: the low count is used
(the engine itself still raises a few-step model's steps and turns its guidance off). An edit
model (the picker's family) runs every one of its live steps: an edit has no strength (a masked
FLUX.2 Klein pass inpaints with its own pipeline: the strength applies there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gui.params.edit_models import is_edit_family, strength_unused
from gui.params.model_entries import family_label

FEW_STEP_LIVE_STEPS = 4  # Turbo, LCM, Lightning, Hyper-SD, DMD2 and schnell all do well at 4
ORDINARY_LIVE_STEPS = 10
GUIDANCE_OFF = 1.0  # diffusers guides only above 1: every few-step kind runs at 0 or 1
FASTER_HINT = (
    "a few-step model (SD-Turbo, SDXL-Turbo, LCM, Lightning, Hyper-SD) renders live passes "
    "several times faster"
)
FEW_STEP_LABELS = {
    "turbo": "Turbo",
    "lcm": "LCM",
    "lightning": "Lightning",
    "hyper": "Hyper-SD",
    "dmd2": "DMD2",
    "schnell": "FLUX.1 schnell",
}


@dataclass(frozen=True)
class LiveSettings:
    """What a live pass runs with, and the line that says why."""

    steps: int
    cfg: float | None  # None: the panel's guidance
    note: str


@dataclass
class LiveDefaults:
    """The loaded model as its last pass record described it (``model`` its reference)."""

    model: str = ""
    name: str = ""  # the model's name as its record gives it
    family: str = ""
    few_step_kind: str = ""
    few_step_min: int = 0

    def forget(self, model: str = "") -> None:
        """Another model was chosen: nothing is known about it yet."""
        self.model, self.name, self.family = model, "", ""
        self.few_step_kind, self.few_step_min = "", 0

    def learn(self, record: dict[str, Any]) -> bool:
        """Take the family and few-step kind from a pass record of the chosen model; returns
        whether the record was about that model."""
        model = record.get("model")
        if not isinstance(model, dict) or not model.get("family"):
            return False
        if self.model and model.get("reference") != self.model:
            return False
        few = record.get("few_step")
        self.family = str(model["family"])
        self.name = str(model.get("name") or "")
        self.few_step_kind = str(few.get("kind", "")) if isinstance(few, dict) else ""
        self.few_step_min = int(few.get("min_steps", 1)) if isinstance(few, dict) else 0
        return True

    def settings(
        self, panel_steps: int, chosen_family: str = "", masked: bool = False
    ) -> LiveSettings:
        """The live step count and guidance (``panel_steps``: the panel's step count;
        ``chosen_family``: the chosen model's family as the picker found it; ``masked``: the
        canvas has a mask)."""
        if self.few_step_kind:
            steps = max(FEW_STEP_LIVE_STEPS, self.few_step_min)
            label = FEW_STEP_LABELS.get(self.few_step_kind, self.few_step_kind)
            return LiveSettings(steps, GUIDANCE_OFF, f"{label} model: {steps} steps, guidance off")
        steps = max(1, min(panel_steps, ORDINARY_LIVE_STEPS))
        family = self.family or chosen_family
        if is_edit_family(family):
            label = family_label(family)
            if strength_unused(family, masked):
                return LiveSettings(steps, None, f"{label} edit: {steps} steps, every one runs")
            return LiveSettings(
                steps, None, f"{label} inpaint under the mask: {steps} steps × the strength"
            )
        known = self.name or (f"{self.family} model" if self.family else "This model")
        return LiveSettings(steps, None, f"{known}: {steps} steps; {FASTER_HINT}")
