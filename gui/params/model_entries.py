"""What the model picker offers: recent models, scanned files and cached hub models, by family.

Plain Python (no Qt): the entries come from ``core.library`` (which never imports torch), so the
window lists models without loading any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.library import catalog
from core.library.registry import ModelLibrary

# The families' display names (core.models.families is off limits to the GUI: it sits with the
# engine). tests/gui/test_model_picker.py checks that both say the same.
FAMILY_LABELS: dict[str, str] = {
    "sd1": "SD 1.x",
    "sd2": "SD 2.x",
    "sdxl": "SDXL",
    "sd3": "SD 3.5",
    "flux": "FLUX.1",
    "flux-fill": "FLUX.1 Fill",
    "flux-kontext": "FLUX.1 Kontext",
    "zimage": "Z-Image",
    "chroma": "Chroma",
    "qwen-image": "Qwen-Image",
    "qwen-image-edit": "Qwen-Image-Edit",
    "qwen-image-edit-plus": "Qwen-Image-Edit-Plus",
    "flux2-klein": "FLUX.2 Klein",
}
OTHER_FAMILY = "Other"
PICKER_KINDS = ("checkpoint", "diffusers", "unet")  # library kinds that are whole models


def family_label(key: str) -> str:
    """The display name of a family key ("sdxl" → "SDXL"); unknown keys as they are."""
    return FAMILY_LABELS.get(key, key or OTHER_FAMILY)


def format_size(size_bytes: int) -> str:
    """A size on disk as people read it: "2.6 GB", "335 MB", "12 KB"."""
    if size_bytes >= 1_000_000_000:
        return f"{size_bytes / 1e9:.1f} GB"
    if size_bytes >= 1_000_000:
        return f"{size_bytes / 1e6:.0f} MB"
    return f"{max(1, round(size_bytes / 1e3))} KB"


@dataclass(frozen=True)
class PickerEntry:
    """One model the picker offers. ``reference`` is what a pass loads (a path or a hub id)."""

    reference: str
    name: str
    family: str  # a family key, "" when unknown
    origin: str  # "installed" (a scanned file or folder) or "cached" (a hub model on disk)

    @property
    def tooltip(self) -> str:
        where = "downloaded from the hub" if self.origin == "cached" else "in a scanned folder"
        return f"{self.name} · {family_label(self.family)} · {where}\n{self.reference}"


def installed_entries(library: ModelLibrary) -> list[PickerEntry]:
    """Whole models registered by scanning folders (checkpoints, diffusers folders, UNets)."""
    return [
        PickerEntry(str(item.path), item.name, item.family, "installed")
        for item in library.items()
        if item.kind in PICKER_KINDS
    ]


def cached_entries() -> list[PickerEntry]:
    """Catalog models already in the Hugging Face cache (never touches the network)."""
    return [
        PickerEntry(entry.id, entry.name, entry.family, "cached")
        for entry in catalog.CATALOG
        if catalog.cached_path(entry.id) is not None
    ]


def available_entries() -> list[PickerEntry]:
    """Everything on this computer the picker can offer: scanned models, then cached ones."""
    return installed_entries(ModelLibrary()) + cached_entries()


EntrySource = Callable[[], list[PickerEntry]]


def group_by_family(entries: Iterable[PickerEntry]) -> list[tuple[str, list[PickerEntry]]]:
    """``(family label, entries)`` in the families' usual order, unknown families last."""
    order = list(FAMILY_LABELS)
    groups: dict[str, list[PickerEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.family, []).append(entry)

    def rank(key: str) -> tuple[int, str]:
        return (order.index(key), "") if key in order else (len(order), key)

    return [
        (family_label(key), sorted(groups[key], key=lambda e: e.name.lower()))
        for key in sorted(groups, key=rank)
    ]
