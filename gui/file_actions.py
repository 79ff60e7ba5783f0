"""File handling for the main window: open, drop, paste, save as PNG, export all passes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from core.errors import UserError
from core.history import PassRecord
from gui.qt_images import qimage_to_pil

if TYPE_CHECKING:
    from gui.main_window import MainWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "pass"


def save_record_png(path: str | Path, record: PassRecord) -> Path:
    """Write a record as PNG: passes carry the engine's metadata, the original is saved plain."""
    from core.metadata import write_png

    path = Path(path)
    if record.params:
        return write_png(path, record.image, record.params, overwrite=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record.image.save(path, format="PNG")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


class FileActions(QObject):
    """The File menu's actions and drag & drop for one :class:`MainWindow`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.open_action = self._action("Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.paste_action = self._action("Paste image", QKeySequence.StandardKey.Paste, self.paste)
        self.save_action = self._action(
            "Save result as PNG…", QKeySequence.StandardKey.Save, self.save_dialog
        )
        self.export_action = self._action(
            "Export all passes…", QKeySequence("Ctrl+Shift+E"), self.export_dialog
        )

    def _action(self, text: str, key, slot) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def actions(self) -> list[QAction | None]:
        return [self.open_action, self.paste_action, None, self.save_action, self.export_action]

    @property
    def _folder(self) -> str:
        return self.window.settings.last_folder

    # -- open -----------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", self._folder, IMAGE_FILTER)
        if path:
            self.open_path(path, offer_parameters=True)

    def open_path(self, path: str | Path, offer_parameters: bool = False) -> bool:
        """Open an image file as a new original; errors show in the window."""
        from core.imaging import load_image

        path = Path(path)
        try:
            image = load_image(path)
        except UserError as exc:
            self.window.show_error(str(exc))
            return False
        self.window.set_root_image(image, path.stem)
        self.window.setWindowTitle(f"{path.name} — Img2Img Studio")
        self.window.settings.last_folder = str(path.parent)
        self.window.statusBar().showMessage(
            f"Opened {path.name} ({image.width}×{image.height})", 5000
        )
        if offer_parameters:
            self.offer_parameters(path)
        return True

    def offer_parameters(self, path: Path) -> bool:
        """If ``path`` carries generation parameters, ask whether to restore them."""
        from core.metadata import read_metadata

        try:
            parsed = (read_metadata(path) or {}).get("parsed") or {}
        except Exception:  # unreadable metadata is simply absent
            return False
        if not parsed:
            return False
        answer = QMessageBox.question(
            self.window,
            "Restore parameters",
            f"{path.name} was generated with prompt, seed and settings.\n"
            "Restore these parameters in the generation panel?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        params = dict(parsed)
        if params.get("seed") is not None:
            params["seed_locked"] = True  # restored to reproduce: keep that seed
        self.window.panel.set_params(params)
        self.window.statusBar().showMessage("Parameters restored from " + path.name, 5000)
        return True

    def paste(self) -> bool:
        """Open the clipboard's image (or image file) as a new original."""
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasImage():
            qimage = QApplication.clipboard().image()
            if not qimage.isNull():
                self.window.set_root_image(qimage_to_pil(qimage), "Pasted")
                self.window.setWindowTitle("Pasted image — Img2Img Studio")
                return True
        if mime is not None and mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                return self.open_path(paths[0], offer_parameters=True)
        self.window.show_error("The clipboard holds no image.")
        return False

    # -- drag and drop ------------------------------------------------------------------------
    @staticmethod
    def _dropped_paths(mime) -> list[Path]:
        if mime is None or not mime.hasUrls():
            return []
        return [
            Path(u.toLocalFile())
            for u in mime.urls()
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES
        ]

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        """Take file drops on the canvas too (the graphics view would swallow them)."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()
            if self._dropped_paths(mime) or (mime is not None and mime.hasImage()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            self.drop(event)
            return event.isAccepted()
        return False

    def drag_enter(self, event) -> None:
        mime = event.mimeData()
        if self._dropped_paths(mime) or (mime is not None and mime.hasImage()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event) -> None:
        mime = event.mimeData()
        paths = self._dropped_paths(mime)
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0], offer_parameters=True)
        elif mime is not None and mime.hasImage():
            event.acceptProposedAction()
            self.window.set_root_image(qimage_to_pil(mime.imageData()), "Dropped")
        else:
            event.ignore()

    # -- save and export --------------------------------------------------------------------
    def save_dialog(self) -> None:
        record = self.window.shown_record() or self.window.tree.current
        if record is None:
            self.window.show_error("Nothing to save yet: open an image first.")
            return
        start = str(Path(self._folder) / f"{slug(record.name)}.png")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save as PNG", start, "PNG (*.png)")
        if path:
            self.save(record, path)

    def save(self, record: PassRecord, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        try:
            save_record_png(path, record)
        except UserError as exc:
            self.window.show_error(str(exc))
            return False
        self.window.settings.last_folder = str(path.parent)
        self.window.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def export_dialog(self) -> None:
        if self.window.tree.root is None:
            self.window.show_error("Nothing to export yet: open an image first.")
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Export all passes", self._folder)
        if folder:
            self.export_all(folder)

    def export_all(self, folder: str | Path) -> Path | None:
        """Write every record as PNG plus an ``index.json`` of the tree; returns the index path."""
        folder = Path(folder)
        entries = []
        try:
            for number, record in enumerate(self.window.tree.records()):
                name = f"{number:03d}-{slug(record.name)}.png"
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
            index = folder / "index.json"
            text = json.dumps({"app": "Img2Img Studio", "passes": entries}, indent=2, default=str)
            index.write_text(text, encoding="utf-8")
        except (UserError, OSError) as exc:
            self.window.show_error(f"Export failed: {exc}")
            return None
        self.window.statusBar().showMessage(f"Exported {len(entries)} images to {folder}", 5000)
        return index
