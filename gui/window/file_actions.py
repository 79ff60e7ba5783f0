"""File handling for the main window: open, drop, paste, save as PNG, export all passes.

FileActions reads the pass tree and the settings' last folder and reports through signals: a new
picture to start a session from, parameters to restore, errors and status-bar messages. The
window connects them; nothing here knows the window beyond the widget its dialogs belong to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QObject, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from core.atomic_io import atomic_save_image, atomic_write_text, write_error
from core.errors import UserError
from core.hashing import complete_model_hash
from core.history import PassRecord, PassTree
from core.project import PROJECT_SUFFIX
from gui.params.conditioning_state import record_conditioning
from gui.qt_helpers import ask
from gui.qt_images import IMAGE_FILTER, qimage_to_pil
from gui.window.settings import APP_NAME, Settings

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


EXPORT_INDEX = "index.json"
HASH_WAIT_SECONDS = 10.0  # a save waits this long at most for a model hash still being computed


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "pass"


def save_record_png(path: str | Path, record: PassRecord) -> Path:
    """Write a record as PNG, atomically, replacing ``path``: passes carry the engine's metadata,
    the original is saved plain. Raises a one-line UserError when it cannot be written."""
    from core.metadata import write_png

    path = Path(path)
    if record.params:
        params = complete_model_hash(record.params, timeout=HASH_WAIT_SECONDS)
        return write_png(path, record.image, params, overwrite=True)
    try:
        return atomic_save_image(path, record.image, format="PNG")
    except OSError as exc:
        raise write_error(path, exc) from None


class FileActions(QObject):
    """The File menu's actions and drag & drop for the window ``parent``.

    ``shown_record`` returns the record on screen (what "Save" writes; the tree's current record
    when it returns None). The actions are added to ``parent`` so their shortcuts work there.
    """

    image_opened = Signal(object, str, str)  # PIL image, record name, document name ("": keep)
    restore_requested = Signal(object)  # parsed parameters the user chose to restore
    project_dropped = Signal(str)  # a dropped .i2i project file's path
    error = Signal(str)
    message = Signal(str, int)  # status-bar text, timeout in ms

    def __init__(
        self,
        parent: QWidget,
        tree: PassTree,
        settings: Settings,
        shown_record: Callable[[], PassRecord | None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._tree = tree
        self._settings = settings
        self._shown_record = shown_record
        self.open_action = self._action("Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.paste_action = self._action("Paste image", QKeySequence.StandardKey.Paste, self.paste)
        self.save_action = self._action(
            "Save result as PNG…", QKeySequence.StandardKey.Save, self.save_dialog
        )
        self.export_action = self._action(
            "Export all passes…", QKeySequence("Ctrl+Shift+E"), self.export_dialog
        )

    def _action(
        self,
        text: str,
        key: QKeySequence | QKeySequence.StandardKey,
        slot: Callable[[], Any],
    ) -> QAction:
        action = QAction(text, self._parent)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        self._parent.addAction(action)
        return action

    def actions(self) -> list[QAction | None]:
        return [self.open_action, self.paste_action, None, self.save_action, self.export_action]

    @property
    def _folder(self) -> str:
        return self._settings.last_folder

    # -- open -----------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        parent, folder = self._parent, self._folder
        path, _ = QFileDialog.getOpenFileName(parent, "Open image", folder, IMAGE_FILTER)
        if path:
            self.open_path(path, offer_parameters=True)

    def open_path(self, path: str | Path, offer_parameters: bool = False) -> bool:
        """Open an image file as a new original; errors are reported through ``error``."""
        from core.imaging import load_image

        path = Path(path)
        try:
            image = load_image(path)
        except UserError as exc:
            self.error.emit(str(exc))
            return False
        self.image_opened.emit(image, path.stem, path.name)
        self._settings.last_folder = str(path.parent)
        self.message.emit(f"Opened {path.name} ({image.width}×{image.height})", 5000)
        if offer_parameters:
            self.offer_parameters(path)
        return True

    def offer_parameters(self, path: Path) -> bool:
        """If ``path`` carries generation parameters, ask whether to restore them.

        ``read_metadata`` reads at most 64 Ki characters of parameters, in linear time, so a
        picture with a huge text chunk cannot stall the GUI thread; what it did not read is
        said in the status bar.
        """
        from core.metadata import read_metadata

        try:
            meta = read_metadata(path) or {}
        except Exception:  # unreadable metadata is simply absent
            return False
        parsed = meta.get("parsed") or {}
        if not parsed:
            if meta.get("notes"):
                self.message.emit(f"{path.name}: " + "; ".join(meta["notes"]), 10000)
            return False
        question = (
            f"{path.name} was generated with prompt, seed and settings.\n"
            "Restore these parameters in the generation panel?"
        )
        if not ask(self._parent, "Restore parameters", question, default_yes=True):
            return False
        params = dict(parsed)
        params.update(record_conditioning(meta.get("record")))  # LoRAs, control layers, references
        if params.get("seed") is not None:
            params["seed_locked"] = True  # restored to reproduce: keep that seed
        self.restore_requested.emit(params)
        self.message.emit("Parameters restored from " + path.name, 5000)
        return True

    def paste(self) -> bool:
        """Open the clipboard's image (or image file) as a new original."""
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasImage():
            qimage = QApplication.clipboard().image()
            if not qimage.isNull():
                self.image_opened.emit(qimage_to_pil(qimage), "Pasted", "Pasted image")
                return True
        if mime is not None and mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                return self.open_path(paths[0], offer_parameters=True)
        self.error.emit("The clipboard holds no image.")
        return False

    # -- drag and drop ------------------------------------------------------------------------
    @staticmethod
    def _dropped_paths(mime: QMimeData | None) -> list[Path]:
        if mime is None or not mime.hasUrls():
            return []
        return [
            Path(u.toLocalFile())
            for u in mime.urls()
            if u.isLocalFile()
            and Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES | {PROJECT_SUFFIX}
        ]

    @classmethod
    def _can_open(cls, mime: QMimeData | None) -> bool:
        """Whether a drag carries an image file or image data."""
        return bool(cls._dropped_paths(mime)) or (mime is not None and mime.hasImage())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Take file drops on the canvas too (the graphics view would swallow them)."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if isinstance(event, QDragMoveEvent) and self._can_open(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            self.drop(event)
            return event.isAccepted()
        return False

    def drag_enter(self, event: QDragEnterEvent) -> None:
        if self._can_open(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = self._dropped_paths(mime)
        if paths and paths[0].suffix.lower() == PROJECT_SUFFIX:
            event.acceptProposedAction()
            self.project_dropped.emit(str(paths[0]))
        elif paths:
            event.acceptProposedAction()
            self.open_path(paths[0], offer_parameters=True)
        elif mime is not None and mime.hasImage():
            event.acceptProposedAction()
            self.image_opened.emit(qimage_to_pil(mime.imageData()), "Dropped", "")
        else:
            event.ignore()

    # -- save and export --------------------------------------------------------------------
    def save_dialog(self) -> None:
        record = self._shown_record() or self._tree.current
        if record is None:
            self.error.emit("Nothing to save yet: open an image first.")
            return
        start = str(Path(self._folder) / f"{slug(record.name)}.png")
        path, _ = QFileDialog.getSaveFileName(self._parent, "Save as PNG", start, "PNG (*.png)")
        if not path:
            return
        # The dialog confirmed replacing the name typed; ".png" added here needs its own answer.
        target = png_path(path)
        if target != Path(path) and target.exists():
            question = f"{target.name} already exists in {target.parent}.\nReplace it?"
            if not ask(self._parent, "Save as PNG", question):
                return
        self.save(record, target)

    def save(self, record: PassRecord, path: str | Path) -> bool:
        """Write ``record`` to ``path`` (".png" added when missing), replacing it: callers ask
        first. Errors are reported through ``error``; the previous file is kept then."""
        path = png_path(path)
        try:
            save_record_png(path, record)
        except UserError as exc:
            self.error.emit(str(exc))
            return False
        self._settings.last_folder = str(path.parent)
        self.message.emit(f"Saved {path}", 5000)
        return True

    def export_dialog(self) -> None:
        if self._tree.root is None:
            self.error.emit("Nothing to export yet: open an image first.")
            return
        folder = QFileDialog.getExistingDirectory(self._parent, "Export all passes", self._folder)
        if not folder:
            return
        existing = self.export_collisions(folder)
        if existing:
            shown = ", ".join(existing[:3]) + (", …" if len(existing) > 3 else "")
            question = (
                f"{len(existing)} file(s) in {folder} would be replaced ({shown}).\nReplace them?"
            )
            if not ask(self._parent, "Export all passes", question):
                return
        self.export_all(folder, overwrite=True)

    def export_names(self) -> list[str]:
        """The file names "Export all passes" writes: one PNG per record, then ``index.json``."""
        names = [f"{n:03d}-{slug(r.name)}.png" for n, r in enumerate(self._tree.records())]
        return [*names, EXPORT_INDEX]

    def export_collisions(self, folder: str | Path) -> list[str]:
        """The export's file names that already exist in ``folder``."""
        return [name for name in self.export_names() if (Path(folder) / name).exists()]

    def export_all(self, folder: str | Path, overwrite: bool = False) -> Path | None:
        """Write every record as PNG plus an ``index.json`` of the tree; returns the index path.

        Each file is written atomically. Without ``overwrite`` nothing is written when any of
        the files exists already; errors are reported through ``error``.
        """
        folder = Path(folder)
        existing = [] if overwrite else self.export_collisions(folder)
        if existing:
            self.error.emit(f"Export stopped: {folder / existing[0]} already exists")
            return None
        entries = []
        names = self.export_names()
        try:
            for name, record in zip(names, self._tree.records(), strict=False):
                save_record_png(folder / name, record)
                entries.append(
                    {
                        "id": record.id,
                        "parent_id": record.parent_id,
                        "name": record.name,
                        "file": name,
                        "duration": record.duration,
                        "params": record.params,
                    }
                )
            index = folder / EXPORT_INDEX
            text = json.dumps({"app": APP_NAME, "passes": entries}, indent=2, default=str)
            try:
                atomic_write_text(index, text)
            except OSError as exc:
                raise write_error(index, exc) from None
        except UserError as exc:
            self.error.emit(f"Export failed: {exc}")
            return None
        self.message.emit(f"Exported {len(entries)} images to {folder}", 5000)
        return index


def png_path(path: str | Path) -> Path:
    """``path`` with a ``.png`` suffix (replacing any other)."""
    path = Path(path)
    return path if path.suffix.lower() == ".png" else path.with_suffix(".png")
