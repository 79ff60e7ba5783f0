"""The window's session as a ``core.project.Session``: taken for project files and autosaves,
put back when a project is opened or an autosave recovered.

A session holds the pass tree (every pass with its name, group, mask and strength map, and the
selected input), the canvas's mask and strength-map layers, and in ``ui``: the generation
parameters (``GenerationParams`` values), the record on screen and the document name; autosaves
also keep the project file the work belongs to.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from core.errors import ProjectError
from core.project import Session

if TYPE_CHECKING:
    from gui.window.main_window import MainWindow

UI_PARAMS = "params"
UI_SHOWN = "shown_id"
UI_DOCUMENT = "document"
UI_PROJECT = "project_path"


def capture_session(window: MainWindow, **ui: Any) -> Session:
    """A detached copy of the window's session (safe to save on another thread); ``ui`` adds
    entries to its UI state."""
    shown = window.shown_record()
    state = {
        UI_PARAMS: window.state.as_dict(),
        UI_SHOWN: shown.id if shown is not None else None,
        **ui,
    }
    canvas = window.canvas
    live = Session(window.tree, canvas.mask_image(), canvas.strength_map_image(), state)
    return live.snapshot()


def restore_session(window: MainWindow, session: Session) -> None:
    """Replace the window's session by ``session``: tree, selection, the record on screen, mask
    and strength-map layers and generation parameters. The undo history starts empty.

    Raises :class:`ProjectError` (before changing anything) for a session without a picture.
    """
    loaded = session.tree
    root = loaded.root
    if root is None:
        raise ProjectError("the project holds no picture")
    if root.id != "root" and "root" in loaded:
        raise ProjectError("the project's pass tree uses the reserved id 'root' for a pass")
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
    window.undo_stack.clear()
    window.canvas.fit()
