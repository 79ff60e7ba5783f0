"""The window's session as a ``core.project.Session``: taken for project files and autosaves,
put back when a project is opened or an autosave recovered.

A session holds the pass tree (every pass with its name, group, mask and strength map, and the
selected input), the canvas's mask and strength-map layers, and in ``ui``: the generation
parameters (``GenerationParams`` values), the record on screen, the document name and the regions
panel's regions (prompt, negative and the mask as a base64 PNG: lossless, and masks compress
well) and the Control panel's LoRAs, control layers and references (their pictures go in the
session's ``ui_images``: PNGs in the archive); autosaves also keep the project file the work
belongs to. While a region is being edited
the session's mask is the one kept aside and the region gets the mask layer.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from typing import TYPE_CHECKING, Any

from PIL import Image

from core.errors import ProjectError
from core.project import Session

if TYPE_CHECKING:
    from gui.window.main_window import MainWindow

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


def regions_ui(window: MainWindow) -> list[dict[str, str]]:
    """The regions panel's regions as JSON for ``ui``."""
    return [
        {"prompt": prompt, "negative": negative, "mask": _mask_text(mask)}
        for mask, prompt, negative in window.regions_panel.saved_regions()
    ]


def regions_from_ui(value: Any) -> list[tuple[Image.Image, str, str]]:
    """The regions in a session's ``ui`` (entries that cannot be read are left out)."""
    regions = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        prompt, negative, mask = entry.get("prompt"), entry.get("negative", ""), entry.get("mask")
        if not (isinstance(prompt, str) and isinstance(negative, str) and isinstance(mask, str)):
            continue
        try:
            regions.append((_text_mask(mask), prompt, negative))
        except (ValueError, OSError):  # binascii.Error is a ValueError
            continue
    return regions


def capture_session(window: MainWindow, **ui: Any) -> Session:
    """A detached copy of the window's session (safe to save on another thread); ``ui`` adds
    entries to its UI state."""
    shown = window.shown_record()
    conditioning, pictures = window.state.conditioning.saved()
    state = {
        UI_PARAMS: window.state.as_dict(),
        UI_SHOWN: shown.id if shown is not None else None,
        UI_REGIONS: regions_ui(window),
        UI_CONDITIONING: conditioning,
        **ui,
    }
    layers = window.regions_panel  # the canvas's layers (the kept mask while editing a region)
    mask, strength_map = layers.mask_image(), layers.strength_map_image()
    return Session(window.tree, mask, strength_map, state, pictures).snapshot()


def restore_session(window: MainWindow, session: Session) -> None:
    """Replace the window's session by ``session``: tree, selection, the record on screen, mask
    and strength-map layers, regions, generation parameters and the Control panel. The undo
    history starts empty.

    Raises :class:`ProjectError` (before changing anything) for a session without a picture.
    """
    loaded = session.tree
    root = loaded.root
    if root is None:
        raise ProjectError("the project holds no picture")
    if root.id != "root" and "root" in loaded:
        raise ProjectError("the project's pass tree uses the reserved id 'root' for a pass")
    window.regions_panel.set_regions(regions_from_ui(session.ui.get(UI_REGIONS)))
    window.set_root_image(root.image, root.name)  # a new tree with a root of id "root"
    tree = window.tree
    for record in loaded.records()[1:]:
        if record.parent_id == root.id:
            record = dataclasses.replace(record, parent_id=tree.root_id)
        tree.insert(record)
    current = loaded.current_id if loaded.current_id != root.id else tree.root_id
    if current is not None and current in tree:
        tree.select(current)
    shown = session.ui.get(UI_SHOWN)
    shown = tree.root_id if shown == root.id else shown
    if isinstance(shown, str) and shown in tree:
        window.show_record(shown)
    window.canvas.set_mask_image(session.mask)
    window.canvas.set_strength_map_image(session.strength_map)
    params = session.ui.get(UI_PARAMS)
    if isinstance(params, dict):
        window.panel.set_params(params)
    window.state.conditioning.load_saved(session.ui.get(UI_CONDITIONING), session.ui_images)
    window.undo_stack.clear()
    window.canvas.fit()
