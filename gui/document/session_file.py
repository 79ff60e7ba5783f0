"""The document as a ``core.project.Session`` and back: project files and autosaves keep this.

A session holds the pass tree (every pass with its name, group, mask and strength map, and the
selected input), the mask and strength map of the next pass, and in ``ui``: the generation
parameters (``GenerationParams`` values), the record on screen, the document name, the regions
(prompt, negative and the mask as a base64 PNG: lossless, and masks compress well) and the
Control panel's LoRAs, control layers and references (their pictures go in the session's
``ui_images``: PNGs in the archive); autosaves also keep the project file the work belongs to.
The keys are those of projects written before the document existed, so those still open.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from pathlib import Path
from typing import Any

from PIL import Image

from core.conditioning.regions import MAX_REGIONS, Region
from core.errors import ProjectError
from core.project import Session
from gui.document.document import Document

UI_PARAMS = "params"
UI_SHOWN = "shown_id"
UI_DOCUMENT = "document"
UI_PROJECT = "project_path"
UI_REGIONS = "regions"
UI_CONDITIONING = "conditioning"


def _mask_text(mask: Image.Image) -> str:
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _text_mask(text: str) -> Image.Image:
    with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as image:
        image.load()
        return image.copy()


def regions_ui(regions: tuple[Region, ...]) -> list[dict[str, str]]:
    """Regions as JSON for ``ui`` (every region, with a prompt or not)."""
    return [
        {"prompt": r.prompt, "negative": r.negative, "mask": _mask_text(r.mask)} for r in regions
    ]


def regions_from_ui(value: Any) -> tuple[Region, ...]:
    """The regions in a session's ``ui`` (entries that cannot be read are left out)."""
    regions = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        prompt, negative, mask = entry.get("prompt"), entry.get("negative", ""), entry.get("mask")
        if not (isinstance(prompt, str) and isinstance(negative, str) and isinstance(mask, str)):
            continue
        try:
            regions.append(Region(_text_mask(mask), prompt, negative))
        except (ValueError, OSError):  # binascii.Error is a ValueError
            continue
    return tuple(regions[:MAX_REGIONS])


def capture(document: Document, autosave: bool = False) -> Session:
    """A detached copy of the document's session (safe to save on another thread); an autosave
    also names the project file the work belongs to."""
    shown = document.shown_record()
    conditioning, pictures = document.params.conditioning.saved()
    state: dict[str, Any] = {
        UI_PARAMS: document.params.as_dict(),
        UI_SHOWN: shown.id if shown is not None else None,
        UI_REGIONS: regions_ui(document.regions),
        UI_CONDITIONING: conditioning,
        UI_DOCUMENT: document.name,
    }
    if autosave:
        project = document.project_path
        state[UI_PROJECT] = str(project) if project is not None else None
    session = Session(document.tree, document.mask, document.strength_map, state, pictures)
    return session.snapshot()


def restore(
    document: Document, session: Session, project_path: Path | None, clean: bool = True
) -> None:
    """Replace the document's session by ``session``, the work of ``project_path`` (None: no
    project): tree, selection, the record on screen, mask and strength map, regions, parameters
    and the Control panel. ``clean`` False keeps it marked unsaved (a recovered autosave).

    Raises :class:`ProjectError` (before changing anything) for a session without a picture.
    """
    loaded = session.tree
    root = loaded.root
    if root is None:
        raise ProjectError("the project holds no picture")
    if root.id != "root" and "root" in loaded:
        raise ProjectError("the project's pass tree uses the reserved id 'root' for a pass")
    ui = session.ui
    with document.replacing():
        document.editing_region = None
        document.regions = regions_from_ui(ui.get(UI_REGIONS))
        tree = document.tree
        tree.set_root(root.image, root.name)  # a new tree with a root of id "root"
        for record in loaded.records()[1:]:
            if record.parent_id == root.id:
                record = dataclasses.replace(record, parent_id=tree.root_id)
            tree.insert(record)
        current = loaded.current_id if loaded.current_id != root.id else tree.root_id
        if current is not None and current in tree:
            tree.select(current)
        shown = ui.get(UI_SHOWN)
        shown = tree.root_id if shown == root.id else shown
        document.shown_id = shown if isinstance(shown, str) and shown in tree else tree.current_id
        document.mask = session.mask
        document.strength_map = session.strength_map
        params = ui.get(UI_PARAMS)
        if isinstance(params, dict):
            document.params.restore(params)
        document.params.conditioning.load_saved(ui.get(UI_CONDITIONING), session.ui_images)
        name = ui.get(UI_DOCUMENT)
        document.name = name if isinstance(name, str) else ""
        document.project_path = project_path
    document.mark_clean()
    if not clean:
        document.mark_unsaved()
