"""Which models edit from an instruction, as the window tells before anything loads.

The engine's families (``core.models.families``: ``edit``, ``max_references``) are off limits
to the window; ``EDIT_FAMILIES`` says the same for the edit families, and
tests/gui/test_edit_models.py checks that both agree. The chosen model's family comes from the
picker's entries (scanned and cached models carry one), a diffusers folder's
``model_index.json`` (``core.library.index_family``: no torch), or the catalog; a hub id found
in none of them is unknown, and the panel keeps its usual words.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from core.errors import ModelError
from core.library import catalog
from core.library.index_family import denoiser_config, family_from_index
from gui.params.model_entries import PickerEntry, family_label

# family key → how many reference pictures it takes besides the edited one
EDIT_FAMILIES: dict[str, int] = {
    "qwen-image-edit": 0,
    "qwen-image-edit-plus": 2,
    "flux2-klein": 4,
}
# Edit families with an inpaint pipeline of their own: a masked pass inpaints with the strength
# (core.models.families.Family.runs_without_strength).
MASKED_WITH_STRENGTH = frozenset({"qwen-image-edit", "flux2-klein"})
INSTRUCTION_PLACEHOLDER = "What to change, e.g. \u201cmake the sky stormy\u201d\u2026"


def model_family(reference: str, entries: Iterable[PickerEntry] = ()) -> str:
    """The family key of the model ``reference`` names ("" when it cannot be told)."""
    reference = reference.strip()
    if not reference:
        return ""
    for entry in entries:
        if entry.reference == reference and entry.family:
            return entry.family
    folder = Path(reference).expanduser()
    index_file = folder / "model_index.json"
    try:
        if index_file.is_file():
            index = json.loads(index_file.read_text(encoding="utf-8"))
            if not isinstance(index, dict):
                return ""
            return family_from_index(index, denoiser_config(folder))[0]  # SD 2.x: its UNet
    except (OSError, ValueError, ModelError):
        return ""
    listed = catalog.entry(reference)
    return listed.family if listed is not None else ""


def is_edit_family(family: str) -> bool:
    return family in EDIT_FAMILIES


def strength_unused(family: str, masked: bool) -> bool:
    """Whether the next pass of ``family`` (``masked`` or not) ignores the strength: every pass
    of an edit model, except a masked one of a family that inpaints with its own pipeline."""
    return is_edit_family(family) and not (masked and family in MASKED_WITH_STRENGTH)


def strength_unused_text(family: str) -> str:
    """The strength slider's note for an edit model: why it is not used."""
    return (
        f"Not used: {family_label(family)} edits from the instruction and runs every step. "
        "Paint a mask to confine the edit"
        + (
            " (a masked pass inpaints with this strength)."
            if family in MASKED_WITH_STRENGTH
            else "."
        )
    )


def references_text(family: str) -> str:
    """Under the instruction: how many edit references the chosen edit model takes."""
    most = EDIT_FAMILIES.get(family, 0)
    if not most:
        return f"{family_label(family)} edits the picture alone: it takes no edit references."
    return (
        f"{family_label(family)} takes up to {most} edit references (Control panel); the "
        "picture is image 1, they are image 2, 3…"
    )
