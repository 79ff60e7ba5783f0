"""What a project file holds: the pass tree, the current mask and strength-map layers, UI state."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from PIL import Image

from core.history import PassTree


@dataclass
class Session:
    """One editing session: everything a project file or an autosave keeps.

    ``mask`` and ``strength_map`` are the session's current layers (mode "L", or None);
    ``ui`` is free-form JSON-able state of the front end (e.g. the generation parameters), and
    ``ui_images`` the pictures that state names (control images, reference pictures), stored as
    lossless PNGs. Names are short: lower-case letters, digits and "-".
    """

    tree: PassTree = field(default_factory=PassTree)
    mask: Image.Image | None = None
    strength_map: Image.Image | None = None
    ui: dict = field(default_factory=dict)
    ui_images: dict[str, Image.Image] = field(default_factory=dict)

    def snapshot(self) -> Session:
        """A detached copy that later edits do not change (to save on another thread).

        Records are immutable and shared, and so are ``ui_images`` (the front end replaces a
        picture, never draws into it); the layers and ``ui`` are copied.
        """
        return Session(
            tree=PassTree.from_records(self.tree.records(), self.tree.current_id),
            mask=self.mask.copy() if self.mask is not None else None,
            strength_map=self.strength_map.copy() if self.strength_map is not None else None,
            ui=copy.deepcopy(self.ui),
            ui_images=dict(self.ui_images),
        )
