"""The Control panel's edit references: the extra pictures an edit model's instruction refers
to ("image 2", "image 3"…), added from a file, a history card or the canvas picture, shown as
thumbnails with Remove. Each edit is one :class:`SetConditioningCommand` on the undo stack; the
rows follow ``ConditioningState.edit_references`` whatever changed it.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.history import PassTree
from core.requests import MAX_EDIT_REFERENCES
from gui.params.conditioning_state import ConditioningState
from gui.params.control_commands import SetConditioningCommand
from gui.params.control_widgets import PictureDrop
from gui.params.edit_references import EDIT_REFERENCES_TEXT, EditReferenceEntry
from gui.qt_helpers import named, plain
from gui.qt_images import IMAGE_FILTER

FIELD = "edit_references"


class EditReferenceRow(QFrame):
    """One edit reference: its thumbnail (drop a file on it to replace it), name and Remove."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editReferenceRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.picture = named(PictureDrop("drop a picture"), "editReferencePicture")
        self.picture.setToolTip("Drop a picture here to replace this one")
        self.title = plain(QLabel())
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.label = named(plain(QLabel()), "editReferenceName")
        self.label.setWordWrap(True)
        self.remove = named(QToolButton(), "removeButton")
        self.remove.setText("✕")
        self.remove.setToolTip("Remove")
        self.remove.setAutoRaise(True)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.label)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.picture)
        layout.addLayout(text, 1)
        layout.addWidget(self.remove)

    def show_entry(self, number: int, entry: EditReferenceEntry) -> None:
        self.title.setText(f"Image {number + 1}")  # the edited picture is image 1
        self.picture.show_picture(entry.image)
        if entry.image is not None:
            name = entry.image_name or "Picture"
            self.label.setText(f"{name} ({entry.image.width}×{entry.image.height})")
        else:
            self.label.setText("Its picture is not in the metadata: add it again.")


class EditReferenceSection(QWidget):
    """The "Edit references" section: a title with its Add menu, the words, then the rows."""

    def __init__(
        self,
        state: ConditioningState,
        undo_stack: QUndoStack,
        tree: PassTree,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("editReferenceSection")
        self.state = state
        self._undo = undo_stack
        self._tree = tree
        self.rows: list[EditReferenceRow] = []

        # 1. Title and Add menu (a file, or the canvas picture), the words, a notice line.
        self.add_button = named(QToolButton(), "addEditReference")
        self.add_button.setText("Add picture")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolTip("A picture an edit model's instruction can refer to")
        menu = QMenu(self.add_button)
        menu.addAction("Choose a file…", self._choose_file)
        menu.addAction("The canvas picture", self.add_canvas_picture)
        self.add_button.setMenu(menu)
        title = QLabel("Edit references")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        header = QHBoxLayout()
        header.addWidget(title, 1)
        header.addWidget(self.add_button)
        self.words = named(plain(QLabel(EDIT_REFERENCES_TEXT)), "editReferenceWords")
        self.words.setWordWrap(True)
        self.words.setStyleSheet("color: palette(mid);")
        self.notice = named(plain(QLabel()), "editReferenceNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: palette(highlight);")
        self.notice.hide()
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.words)
        layout.addWidget(self.notice)
        layout.addLayout(self._rows_box)

        # 2. Follow the state (edits, undo, restored projects and PNGs).
        unsubscribe = state.subscribe(FIELD, lambda _v: self._sync())
        self.destroyed.connect(lambda *_: unsubscribe())
        self._sync()

    # -- adding, replacing, removing (one undo step each) -----------------------------------------
    def add_picture(self, image: Image.Image, name: str) -> bool:
        """Add ``image`` (called ``name``) after the others."""
        entries = self.state.edit_references
        if len(entries) >= MAX_EDIT_REFERENCES:
            self._show_notice(f"At most {MAX_EDIT_REFERENCES} edit references.")
            return False
        self._show_notice("")
        entry = EditReferenceEntry(image, name)
        return self._push((*entries, entry), f"Add edit reference {name}")

    def add_file(self, path: str) -> bool:
        """Load ``path`` and add it (a picture that cannot be read: its one-line reason)."""
        image = self._load(path)
        return image is not None and self.add_picture(image, Path(path).name)

    def add_record(self, record_id: str) -> bool:
        """Add a pass's picture (a history card's "Use as edit reference")."""
        if record_id not in self._tree:
            return False
        record = self._tree.get(record_id)
        return self.add_picture(record.image, record.name)

    def add_canvas_picture(self) -> bool:
        """Add the next pass's input picture (what the canvas edits)."""
        current = self._tree.current
        if current is None:
            self._show_notice("Open a picture first.")
            return False
        return self.add_picture(current.image, current.name)

    def replace_file(self, index: int, path: str) -> bool:
        """Replace reference ``index``'s picture by the file at ``path``."""
        entries = self.state.edit_references
        image = self._load(path)
        if image is None or not 0 <= index < len(entries):
            return False
        entry = EditReferenceEntry(image, Path(path).name)
        return self._push(entries[:index] + (entry,) + entries[index + 1 :], "Edit reference")

    def remove(self, index: int) -> bool:
        entries = self.state.edit_references
        if not 0 <= index < len(entries):
            return False
        return self._push(entries[:index] + entries[index + 1 :], "Remove edit reference")

    def _push(self, after: tuple[EditReferenceEntry, ...], text: str) -> bool:
        before = self.state.edit_references
        if after == before:
            return False
        self._undo.push(SetConditioningCommand(self.state, FIELD, before, after, text))
        return True

    def _load(self, path: str) -> Image.Image | None:
        from core.imaging import load_image

        try:
            return load_image(path)
        except UserError as exc:
            self._show_notice(str(exc))
            return None

    def _choose_file(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add edit references", "", IMAGE_FILTER)
        for path in paths:
            if not self.add_file(path):
                break

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- following the state ----------------------------------------------------------------------
    def _sync(self) -> None:
        entries = self.state.edit_references
        while len(self.rows) > len(entries):
            row = self.rows.pop()
            row.setParent(None)
            row.deleteLater()
        while len(self.rows) < len(entries):
            index = len(self.rows)
            row = EditReferenceRow()
            row.remove.clicked.connect(lambda _=False, i=index: self.remove(i))
            row.picture.dropped.connect(lambda path, i=index: self.replace_file(i, path))
            self.rows.append(row)
            self._rows_box.addWidget(row)
        for number, (row, entry) in enumerate(zip(self.rows, entries, strict=True), 1):
            row.show_entry(number, entry)
