"""The Control panel: LoRAs with weights, ControlNet control layers, IP-Adapter references and
edit references (gui.params.edit_reference_section).

It edits a :class:`ConditioningState` (the runner reads it through ``GenerationParams``): every
user edit becomes one :class:`SetConditioningCommand` on the window's undo stack, and the rows
follow the state whatever changed it (an edit, undo, a restored PNG or project). A control layer
shows a thumbnail of its control image, made from its own picture or the next pass's input
picture; "Show" puts it over the canvas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.conditioning.annotator_files import unavailable_reason
from core.conditioning.specs import (
    MAX_CONTROLS,
    MAX_LORAS,
    MAX_REFERENCES,
    MODEL_CONTROL_KINDS,
    ControlLayer,
    LoraSpec,
)
from core.errors import UserError
from core.history import PassTree, TreeChange, TreeEvent
from gui.params.conditioning_state import ConditioningState, ControlEntry, ReferenceEntry
from gui.params.control_commands import SetConditioningCommand
from gui.params.control_rows import ControlRow, LoraRow, ReferenceRow, as_sentence
from gui.params.control_widgets import complete_models, library_items
from gui.params.edit_reference_section import EditReferenceSection
from gui.qt_helpers import named, plain
from gui.qt_images import IMAGE_FILTER

PREVIEW_SIDE = 256  # thumbnails are made from the picture scaled to this
OVERLAY_SIDE = 2048  # the canvas overlay is made at most this large (then stretched)
LORA_FILTER = "LoRA (*.safetensors);;All files (*)"
MODEL_FILTER = "Models (*.safetensors *.bin);;All files (*)"


class ControlImageView(Protocol):
    """Where the shown layer's control image goes (the canvas's overlay)."""

    def show_control_image(self, image: Image.Image | None) -> None: ...


def library_loras() -> list[tuple[str, str]]:
    """(name, path) of the LoRAs in the scanned model folders."""
    return library_items("lora")


def control_preview(
    layer: ControlLayer, picture: Image.Image | None, side: int
) -> tuple[Image.Image | None, str]:
    """The control image of ``layer`` made at most ``side`` pixels large, or (None, why not)."""
    if layer.kind in MODEL_CONTROL_KINDS:
        reason = unavailable_reason(layer.kind)
        if reason is not None:
            return None, as_sentence(reason)
        return None, f"The {layer.kind} map is made when the pass runs."
    source = layer.image if layer.image is not None else picture
    if source is None:
        return None, "Open a picture to see it."
    small = source.copy()
    small.thumbnail((side, side))
    try:
        from core.conditioning.preprocess import control_image

        return control_image(layer, small, small.size), ""
    except UserError as exc:
        return None, str(exc)


class ControlPanel(QWidget):
    """LoRAs, control layers and references for the next passes (one undo step per edit)."""

    def __init__(
        self,
        state: ConditioningState,
        undo_stack: QUndoStack,
        tree: PassTree,
        overlay: ControlImageView | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("controlPanel")
        self.state = state
        self._undo = undo_stack
        self._tree = tree
        self._overlay = overlay
        self.lora_rows: list[LoraRow] = []
        self.control_rows: list[ControlRow] = []
        self.reference_rows: list[ReferenceRow] = []
        self._preview_keys: dict[ControlRow, tuple] = {}
        self._overlay_key: tuple | None = None

        # 1. The sections, in a scroll area: a title with its Add button, then the rows.
        self.notice = named(plain(QLabel()), "controlNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: palette(highlight);")
        self.add_lora = named(QToolButton(), "addLora")
        self.add_lora.setText("Add LoRA")
        self.add_lora.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.lora_menu = QMenu(self.add_lora)
        self.lora_menu.aboutToShow.connect(self._fill_lora_menu)
        self.add_lora.setMenu(self.lora_menu)
        self.add_control = named(QPushButton("Add control layer"), "addControl")
        self.add_reference = named(QPushButton("Add reference"), "addReference")
        self.add_control.clicked.connect(self.add_control_layer)
        self.add_reference.clicked.connect(lambda: self.add_reference_entry())
        self.add_lora.setToolTip("A LoRA from the scanned folders, or a .safetensors file")
        self.add_control.setToolTip("Lock the composition: edges, a drawing or a depth/pose map")
        self.add_reference.setToolTip("Carry a reference picture's look (IP-Adapter)")
        content = QWidget()
        self._column = QVBoxLayout(content)
        self._column.setContentsMargins(6, 6, 6, 6)
        self._column.addWidget(self.notice)
        self._lora_box = self._section("LoRAs", self.add_lora)
        self._control_box = self._section("Control layers", self.add_control)
        self._reference_box = self._section("References", self.add_reference)
        self.edit_references = EditReferenceSection(state, undo_stack, tree)
        self._column.addWidget(self.edit_references)
        self._column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        # 2. Follow the state (edits, undo, restores) and the next pass's input picture.
        state.subscribe("loras", lambda _v: self._sync_loras())
        state.subscribe("controls", lambda _v: self._sync_controls())
        state.subscribe("references", lambda _v: self._sync_references())
        state.subscribe("shown_control", lambda _v: self._sync_controls())
        state.subscribe("notice", self._show_notice)
        tree.subscribe(self._on_tree_changed)
        self._sync_loras()
        self._sync_controls()
        self._sync_references()
        self._show_notice(state.notice)

    def _section(self, title: str, button: QWidget) -> QVBoxLayout:
        header = QHBoxLayout()
        label = QLabel(title)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        header.addWidget(label, 1)
        header.addWidget(button)
        self._column.addLayout(header)
        rows = QVBoxLayout()
        rows.setSpacing(4)
        self._column.addLayout(rows)
        return rows

    # -- adding and removing ----------------------------------------------------------------------
    def _fill_lora_menu(self) -> None:
        self.lora_menu.clear()
        for name, path in library_loras():
            self.lora_menu.addAction(name, self._lora_adder(path))
        if not self.lora_menu.isEmpty():
            self.lora_menu.addSeparator()
        self.lora_menu.addAction("Choose a file…", self._choose_lora_file)

    def _lora_adder(self, path: str) -> Callable[[], object]:
        return lambda: self.add_lora_file(path)

    def _choose_lora_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", LORA_FILTER)
        if path:
            self.add_lora_file(path)

    def add_lora_file(self, path: str, weight: float = 1.0) -> bool:
        """Add a LoRA (a file or a scanned LoRA's name); one undo step."""
        if len(self.state.loras) >= MAX_LORAS:
            self._show_notice(f"At most {MAX_LORAS} LoRAs.")
            return False
        loras = (*self.state.loras, LoraSpec(path, weight))
        return self._push("loras", loras, f"Add LoRA {Path(path).stem}")

    def add_control_layer(self) -> bool:
        """Add a Canny layer made from the input picture (with the last layer's model)."""
        controls = self.state.controls
        if len(controls) >= MAX_CONTROLS:
            self._show_notice(f"At most {MAX_CONTROLS} control layers.")
            return False
        model = controls[-1].layer.model if controls else ""
        entry = ControlEntry(ControlLayer(model=model, kind="canny"))
        return self._push("controls", (*controls, entry), "Add control layer")

    def add_reference_entry(self, image: Image.Image | None = None, name: str = "") -> bool:
        """Add a reference (its picture may come later: drop it on the row)."""
        refs = self.state.references
        if len(refs) >= MAX_REFERENCES:
            self._show_notice(f"At most {MAX_REFERENCES} references.")
            return False
        model = refs[-1].model if refs else ""
        entry = ReferenceEntry(model=model, image=image, image_name=name)
        return self._push("references", (*refs, entry), "Add reference")

    def remove(self, name: str, index: int) -> bool:
        """Remove entry ``index`` of list ``name`` ("loras", "controls", "references")."""
        items = getattr(self.state, name)
        if not 0 <= index < len(items):
            return False
        shown = self.state.shown_control
        if name == "controls" and shown >= index:
            self.state.shown_control = -1 if shown == index else shown - 1
        label = {"loras": "LoRA", "controls": "control layer", "references": "reference"}[name]
        return self._push(name, items[:index] + items[index + 1 :], f"Remove {label}")

    # -- editing ----------------------------------------------------------------------------------
    def edit(
        self, name: str, index: int, text: str, changes: dict[str, Any], merge: Hashable = None
    ) -> bool:
        """Change fields of entry ``index`` of list ``name``; one undo step (edits with the same
        ``merge`` key, such as one slider drag, merge into one)."""
        items = getattr(self.state, name)
        if not 0 <= index < len(items):
            return False
        item = items[index]
        if name == "controls":
            item = item.with_changes(changes)
        else:
            item = dataclasses.replace(item, **changes)
        after = items[:index] + (item,) + items[index + 1 :]
        return self._push(name, after, text, (name, index, merge) if merge else None)

    def _push(self, name: str, after: tuple, text: str, merge: Hashable | None = None) -> bool:
        before = getattr(self.state, name)
        if after == before:
            return False
        self._undo.push(SetConditioningCommand(self.state, name, before, after, text, merge))
        return True

    def set_picture(self, name: str, index: int, path: str) -> bool:
        """Load ``path`` as the picture of control layer or reference ``index``."""
        from core.imaging import load_image

        try:
            image = load_image(path)
        except UserError as exc:
            self._show_notice(str(exc))
            return False
        changes = {"image": image, "image_name": Path(path).name, "image_lost": False}
        text = "Control picture" if name == "controls" else "Reference picture"
        return self.edit(name, index, text, changes)

    def _choose_picture(self, name: str, index: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a picture", "", IMAGE_FILTER)
        if path:
            self.set_picture(name, index, path)

    def _choose_model(self, name: str, index: int) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", MODEL_FILTER)
        if path:
            text = "ControlNet model" if name == "controls" else "IP-Adapter model"
            self.edit(name, index, text, {"model": path})

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- following the state ----------------------------------------------------------------------
    def _resize_rows(self, rows: list, count: int, box: QVBoxLayout, make: Callable) -> None:
        while len(rows) > count:
            row = rows.pop()
            self._preview_keys.pop(row, None)
            row.setParent(None)
            row.deleteLater()
        while len(rows) < count:
            index = len(rows)
            row = make(index)
            rows.append(row)
            box.addWidget(row)

    def _sync_loras(self) -> None:
        def make(index: int) -> LoraRow:
            row = LoraRow()
            row.edited.connect(lambda text, ch, key: self.edit("loras", index, text, ch, key))
            row.remove_requested.connect(lambda: self.remove("loras", index))
            return row

        self._resize_rows(self.lora_rows, len(self.state.loras), self._lora_box, make)
        for row, lora in zip(self.lora_rows, self.state.loras, strict=True):
            row.show_entry(lora)

    def _sync_controls(self) -> None:
        def make(index: int) -> ControlRow:
            row = ControlRow()
            row.edited.connect(lambda text, ch, key: self.edit("controls", index, text, ch, key))
            row.remove_requested.connect(lambda: self.remove("controls", index))
            row.pick_picture.connect(lambda: self._choose_picture("controls", index))
            row.pick_model.connect(lambda: self._choose_model("controls", index))
            complete_models(row.model, "controlnet")
            row.picture_dropped.connect(lambda path: self.set_picture("controls", index, path))
            row.show_toggled.connect(lambda on: self.show_on_canvas(index if on else -1))
            return row

        controls = self.state.controls
        self._resize_rows(self.control_rows, len(controls), self._control_box, make)
        shown = self.state.shown_control
        for number, (row, entry) in enumerate(zip(self.control_rows, controls, strict=True)):
            row.show_entry(number + 1, entry, shown == number)
            self._update_preview(row, entry.layer)
        self._update_overlay()

    def _sync_references(self) -> None:
        def make(index: int) -> ReferenceRow:
            row = ReferenceRow()
            row.edited.connect(lambda text, ch, key: self.edit("references", index, text, ch, key))
            row.remove_requested.connect(lambda: self.remove("references", index))
            row.pick_picture.connect(lambda: self._choose_picture("references", index))
            row.pick_model.connect(lambda: self._choose_model("references", index))
            complete_models(row.model, "ip_adapter")
            row.picture_dropped.connect(lambda path: self.set_picture("references", index, path))
            return row

        refs = self.state.references
        self._resize_rows(self.reference_rows, len(refs), self._reference_box, make)
        for number, (row, ref) in enumerate(zip(self.reference_rows, refs, strict=True)):
            row.show_entry(number + 1, ref)

    # -- control images: thumbnails and the canvas overlay ----------------------------------------
    def _picture(self) -> Image.Image | None:
        current = self._tree.current
        return current.image if current is not None else None

    def _layer_key(self, layer: ControlLayer) -> tuple:
        """What a layer's control image depends on (pictures by identity, not by pixels)."""
        source = layer.image if layer.image is not None else self._picture()
        thresholds = (layer.low_threshold, layer.high_threshold, layer.invert)
        return (layer.kind, _Same(source), *thresholds)

    def _update_preview(self, row: ControlRow, layer: ControlLayer) -> None:
        key = self._layer_key(layer)
        if self._preview_keys.get(row) == key:
            return
        self._preview_keys[row] = key
        image, why = control_preview(layer, self._picture(), PREVIEW_SIDE)
        row.set_preview(image, why)

    def show_on_canvas(self, index: int) -> None:
        """Show control layer ``index``'s control image over the canvas (-1: hide it)."""
        self.state.shown_control = index if 0 <= index < len(self.state.controls) else -1

    def shown_control_image(self) -> Image.Image | None:
        """The control image over the canvas (None: none shown)."""
        layer = self.state.shown_layer()
        if layer is None:
            return None
        return control_preview(layer, self._picture(), OVERLAY_SIDE)[0]

    def _update_overlay(self) -> None:
        layer = self.state.shown_layer()
        key = None if layer is None else self._layer_key(layer)
        if self._overlay is None or key == self._overlay_key:
            return
        self._overlay_key = key
        self._overlay.show_control_image(self.shown_control_image())

    def _on_tree_changed(self, event: TreeEvent) -> None:
        if event.kind is not TreeChange.CHANGED:
            self._sync_controls()  # the input picture may have changed: previews follow


class _Same:
    """Compares its object by identity (a picture's pixels are not compared)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)
