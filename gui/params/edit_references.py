"""Edit references: the extra pictures an instruction-edit model's instruction may refer to
("the coat in image 2"), as the Control panel keeps them. Plain Python, no Qt.

Which models take them, and how many, is the engine's rule (``core.models.families``:
``edit``, ``max_references``; a pass with too many is refused in one line). The window only
keeps the pictures, in order, and says in words which models use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from core.errors import InvalidRequest
from core.requests import MAX_EDIT_REFERENCES

EDIT_REFERENCES_TEXT = (
    "Pictures the instruction can refer to (\u201cthe coat in image 2\u201d; the edited picture "
    "is image 1). Only edit models use them: Qwen-Image-Edit-Plus takes up to 2, FLUX.2 Klein "
    "up to 4; any other model refuses them at Generate."
)


@dataclass(frozen=True)
class EditReferenceEntry:
    """One edit reference: its picture and the picture's name (a file's, or a pass's)."""

    image: Image.Image | None = None
    image_name: str = ""
    image_lost: bool = False  # restored from metadata, which keeps only its hash and size


def edit_reference_images(entries: tuple[EditReferenceEntry, ...]) -> tuple[Image.Image, ...]:
    """The pictures for ``PassRequest.edit_references``, in order; raises
    :class:`InvalidRequest` (one line) for an entry whose picture is lost."""
    for number, entry in enumerate(entries, 1):
        if entry.image is None:
            raise InvalidRequest(
                f"edit reference {number} has no picture: add it again in the Control panel "
                "(or remove it)"
            )
    return tuple(entry.image for entry in entries if entry.image is not None)


def saved_edit_references(
    entries: tuple[EditReferenceEntry, ...],
) -> tuple[list[dict[str, Any]], dict[str, Image.Image]]:
    """The entries as JSON plus their pictures by name (``edit-reference-0``…)."""
    items: list[dict[str, Any]] = []
    images: dict[str, Image.Image] = {}
    for number, entry in enumerate(entries):
        fields: dict[str, Any] = {"image_name": entry.image_name, "image_lost": entry.image_lost}
        if entry.image is not None:
            fields["image"] = name = f"edit-reference-{number}"
            images[name] = entry.image
        items.append(fields)
    return items, images


def load_edit_references(
    items: list[dict], images: dict[str, Image.Image]
) -> tuple[EditReferenceEntry, ...]:
    """Entries back from :func:`saved_edit_references` (a missing picture: a lost entry)."""
    entries = []
    for item in items:
        image = images.get(str(item.get("image")))
        name = item.get("image_name")
        name = name if isinstance(name, str) and image is not None else ""
        entries.append(EditReferenceEntry(image, name, image is None))
    return tuple(entries[:MAX_EDIT_REFERENCES])


def edit_references_from_record(items: list[dict]) -> tuple[EditReferenceEntry, ...]:
    """A pass record's edit references (hash and size only): one lost entry each, so the panel
    shows how many the pass used and asks for their pictures again."""
    return tuple(EditReferenceEntry(None, "", True) for _ in items[:MAX_EDIT_REFERENCES])
