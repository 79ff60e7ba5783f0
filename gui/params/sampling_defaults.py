"""The step count and CFG that follow the chosen model, and why CFG may not apply to it.

Plain Python (no Qt, no torch). When the model picker finds a model of another kind — another
family, or a few-step (distilled) model of a family — the Steps and CFG fields move to that
kind's values: the ones last used with it in this session, else its defaults (the family's,
``core.models.families``, which the window may not import: ``FAMILY_SAMPLING`` says the same,
and tests/gui/test_sampling_defaults.py checks that both agree; a few-step model's from
``core.library.few_step_names``). Picking another model of the same kind changes nothing, so
values set by hand stay; a model of unknown family changes nothing either. Like every other
parameter edit, the move is not an undo step (the undo stack holds canvas and pass edits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.library.few_step_names import LABELS, FewStep, few_step_for_reference
from gui.params.model_entries import family_label

# family key → (default steps, default CFG), as core.models.families.Family has them
FAMILY_SAMPLING: dict[str, tuple[int, float]] = {
    "sd1": (30, 7.0),
    "sd2": (30, 7.0),
    "sdxl": (30, 6.0),
    "sd3": (28, 4.5),
    "flux": (28, 3.5),
    "flux-fill": (28, 30.0),
    "flux-kontext": (28, 2.5),
    "zimage": (28, 4.0),
    "chroma": (40, 4.0),
    "qwen-image": (50, 4.0),
    "qwen-image-edit": (50, 4.0),
    "qwen-image-edit-plus": (40, 4.0),
    "flux2-klein": (4, 1.0),
}
# A few-step model of these families runs more steps than FewStep.max_steps says (Z-Image
# Turbo's card: 8 steps; SD-Turbo-style models do well at 4).
FEW_STEP_FAMILY_STEPS = {"zimage": 8}
# FLUX.2 Klein's undistilled base ("FLUX.2-klein-base-4B/9B": ``is_distilled`` false) runs with
# real CFG: diffusers' own example takes 50 steps at guidance 4.
KLEIN_BASE_SAMPLING = (50, 4.0)


@dataclass(frozen=True)
class SamplingDefaults:
    """What a kind of model runs with by default."""

    kind: str  # what the values belong to: a family key, with "/turbo" etc. for a few-step model
    steps: int
    cfg: float
    cfg_unused: str  # why the CFG field does not apply to this model ("" when it does)


def sampling_defaults(family: str, reference: str) -> SamplingDefaults | None:
    """The defaults of the model ``reference`` of ``family`` (None: an unknown family)."""
    if family not in FAMILY_SAMPLING:
        return None
    steps, cfg = FAMILY_SAMPLING[family]
    label = family_label(family)
    if family == "flux2-klein":
        if _is_klein_base(reference):
            steps, cfg = KLEIN_BASE_SAMPLING
            return SamplingDefaults(f"{family}/base", steps, cfg, "")
        reason = (
            f"Not used: {label} is distilled and runs without CFG (guidance is built into the "
            f"model; {steps} steps are enough)."
        )
        return SamplingDefaults(family, steps, cfg, reason)
    few = few_step_for_reference(reference)
    if few is not None:
        return _few_step_defaults(family, few)
    return SamplingDefaults(family, steps, cfg, "")


def _few_step_defaults(family: str, few: FewStep) -> SamplingDefaults:
    steps = max(few.min_steps, FEW_STEP_FAMILY_STEPS.get(family, few.max_steps))
    label = LABELS.get(few.kind, few.kind)
    reason = (
        f"Not used: a {label} model runs with guidance off (CFG {few.cfg:g}), in a few steps "
        f"({steps} here)."
    )
    return SamplingDefaults(f"{family}/{few.kind}", steps, few.cfg, reason)


def _is_klein_base(reference: str) -> bool:
    """A FLUX.2 Klein base model: its ``model_index.json`` says ``is_distilled`` false, or its
    name has "klein-base"."""
    index_file = Path(reference).expanduser() / "model_index.json"
    try:
        if index_file.is_file():
            index = json.loads(index_file.read_text(encoding="utf-8"))
            return isinstance(index, dict) and index.get("is_distilled") is False
    except (OSError, ValueError):
        return False
    return "klein-base" in reference.lower()


@dataclass
class SamplingMemory:
    """The steps and CFG last used with each kind of model in this session; ``follow`` moves
    the parameters along when the chosen model's kind changes."""

    kind: str = ""  # the kind of the chosen model ("" unknown or none)
    kept: dict[str, tuple[int, float]] = field(default_factory=dict)

    def follow(
        self, defaults: SamplingDefaults | None, steps: int, cfg: float
    ) -> tuple[int, float]:
        """The steps and CFG to use now that a model with ``defaults`` is chosen, given the
        current ``steps`` and ``cfg`` (kept for the kind being left)."""
        kind = defaults.kind if defaults is not None else ""
        if kind == self.kind:
            return steps, cfg
        if self.kind:
            self.kept[self.kind] = (steps, cfg)
        self.kind = kind
        if defaults is None:
            return steps, cfg
        return self.kept.get(kind, (defaults.steps, defaults.cfg))
