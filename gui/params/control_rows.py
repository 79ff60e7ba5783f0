"""The Control panel's rows: one LoRA, one control layer, one reference.

A row shows one entry of the conditioning state (``show_entry``) and reports each user edit as
``edited(text, changes, merge_key)``: the undo text, the fields to change and a key that merges
the many edits of one slider drag into one undo step (None: its own step). Rows never change
the state themselves; the panel turns each edit into an undo command.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from core.conditioning.annotator_files import unavailable_reason
from core.conditioning.specs import CONTROL_KINDS, REFERENCE_MODES, LoraSpec
from gui.params.conditioning_state import ControlEntry, ReferenceEntry
from gui.params.control_widgets import PictureDrop, ValueSlider, narrow
from gui.qt_helpers import named, plain, plain_tooltip

KIND_LABELS = {
    "canny": "Canny edges",
    "scribble": "Scribble",
    "lineart": "Line art",
    "image": "Image as it is (depth, pose…)",
    "depth": "Depth (preprocessor)",
    "softedge": "Soft edge (preprocessor)",
    "pose": "Pose (preprocessor)",
}


def as_sentence(reason: str) -> str:
    """A one-line reason (``the pose preprocessor is…``) as a sentence to show."""
    return reason[:1].upper() + reason[1:] + "."


PREVIEW_TEXT_MAX = 80  # characters the thumbnail's box shows in full
MODE_LABELS = {"standard": "Standard", "style": "Style only", "composition": "Composition only"}


class _Row(QFrame):
    """A framed row with a title line: title, extra buttons, Remove."""

    edited = Signal(str, object, object)  # undo text, {field: value}, merge key or None
    remove_requested = Signal()
    pick_model = Signal()  # the model field's "…": the panel asks for a file

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = plain(QLabel(title))
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.remove = named(QToolButton(), "removeButton")
        self.remove.setText("✕")
        self.remove.setToolTip("Remove")
        self.remove.setAutoRaise(True)
        self.remove.clicked.connect(self.remove_requested)
        self.header = QHBoxLayout()
        self.header.addWidget(self.title, 1)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(6, 4, 6, 6)
        self.grid.setVerticalSpacing(3)
        self.grid.addLayout(self.header, 0, 0, 1, 3)

    def finish_header(self) -> None:
        self.header.addWidget(self.remove)

    def _edit(self, text: str, merge_key: object = None, **changes: object) -> None:
        self.edited.emit(text, changes, merge_key)

    def _model_field(self, name: str, placeholder: str) -> tuple[QLineEdit, QHBoxLayout]:
        """A model reference field with a "…" button that browses for a file."""
        field = named(QLineEdit(), name)
        field.setPlaceholderText(placeholder)
        browse = named(QToolButton(), name + "Browse")
        browse.setText("…")
        browse.setToolTip("Choose a model file")
        browse.clicked.connect(self.pick_model)
        layout = QHBoxLayout()
        layout.setSpacing(2)
        layout.addWidget(field, 1)
        layout.addWidget(browse)
        return field, layout


class LoraRow(_Row):
    """One LoRA: its name (the file's stem) and a weight slider."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("LoRA", parent)
        self.setObjectName("loraRow")
        self.finish_header()
        self.weight = named(ValueSlider(-2.0, 2.0, 0.05), "loraWeight")
        self.weight.spin.setRange(-4.0, 4.0)
        self.weight.setToolTip("0 turns it off; negative weights push away from it")
        self.grid.addWidget(QLabel("Weight"), 1, 0)
        self.grid.addWidget(self.weight, 1, 1, 1, 2)
        self.weight.edited.connect(lambda v, key: self._edit("LoRA weight", key, weight=v))

    def show_entry(self, lora: LoraSpec) -> None:
        self.title.setText(Path(lora.path).stem or lora.path)
        self.title.setToolTip(plain_tooltip(lora.path))
        self.weight.set_value(lora.weight)


class ControlRow(_Row):
    """One control layer: on/off, show on canvas, type, model, picture and preview, strength,
    range, Canny thresholds and invert."""

    pick_picture = Signal()  # "Choose…": the panel asks for a file
    picture_dropped = Signal(str)
    show_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Control layer", parent)
        self.setObjectName("controlRow")
        self.enabled = named(QCheckBox("On"), "controlEnabled")
        self.show_button = named(QToolButton(), "controlShow")
        self.show_button.setText("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show this layer's control image on the canvas")
        self.header.addWidget(self.enabled)
        self.header.addWidget(self.show_button)
        self.finish_header()

        self.kind = named(QComboBox(), "controlKind")
        self.unavailable = self._add_kinds()
        narrow(self.kind)
        self.model, model_field = self._model_field(
            "controlModel", "ControlNet: folder, .safetensors or hub id"
        )
        self.preview = named(PictureDrop("the input picture"), "controlPreview")
        self.preview.setToolTip("The control image. Drop a picture here to make it from that one.")
        self.picture_label = named(plain(QLabel()), "controlPicture")
        self.picture_label.setWordWrap(True)
        self.choose = named(QPushButton("Choose…"), "controlChoose")
        self.use_picture = named(QPushButton("Use the picture"), "controlUsePicture")
        self.use_picture.setToolTip("Make the control image from the pass's input picture")
        self.strength = named(ValueSlider(0.0, 2.0, 0.05), "controlStrength")
        self.start = named(QDoubleSpinBox(), "controlStart")
        self.end = named(QDoubleSpinBox(), "controlEnd")
        for box in (self.start, self.end):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
        self.low = named(QSpinBox(), "controlLow")
        self.high = named(QSpinBox(), "controlHigh")
        for threshold in (self.low, self.high):
            threshold.setRange(0, 255)
        self.invert = named(QCheckBox("Dark lines on white"), "controlInvert")

        picture_buttons = QHBoxLayout()
        picture_buttons.addWidget(self.choose)
        picture_buttons.addWidget(self.use_picture)
        picture_buttons.addStretch(1)
        grid = self.grid  # the thumbnail on the left of type, model and picture
        grid.addWidget(self.preview, 1, 0, 4, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(QLabel("Type"), 1, 1)
        grid.addWidget(self.kind, 1, 2)
        grid.addWidget(QLabel("Model"), 2, 1)
        grid.addLayout(model_field, 2, 2)
        grid.addWidget(self.picture_label, 3, 1, 1, 2)
        grid.addLayout(picture_buttons, 4, 1, 1, 2)
        grid.addWidget(QLabel("Strength"), 5, 0)
        grid.addWidget(self.strength, 5, 1, 1, 2)
        range_row = QHBoxLayout()
        range_row.addWidget(self.start)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.end)
        range_row.addStretch(1)
        grid.addWidget(QLabel("Range"), 6, 0)
        grid.addLayout(range_row, 6, 1, 1, 2)
        self.thresholds_label = QLabel("Thresholds")
        thresholds = QHBoxLayout()
        thresholds.addWidget(self.low)
        thresholds.addWidget(self.high)
        thresholds.addStretch(1)
        grid.addWidget(self.thresholds_label, 7, 0)
        grid.addLayout(thresholds, 7, 1, 1, 2)
        grid.addWidget(self.invert, 8, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.start.setToolTip("Where in the denoise the layer starts acting (0 = first step)")
        self.end.setToolTip("Where it stops (1 = last step)")
        self.low.setToolTip("Canny: edges weaker than this are dropped")
        self.high.setToolTip("Canny: edges stronger than this are always kept")

        self.enabled.toggled.connect(
            lambda on: self._edit("Turn control layer " + ("on" if on else "off"), enabled=on)
        )
        self.show_button.toggled.connect(self.show_toggled)
        self.kind.activated.connect(
            lambda _i: self._edit("Control type", kind=self.kind.currentData())
        )
        self.model.editingFinished.connect(self._on_model_edited)
        self.strength.edited.connect(lambda v, key: self._edit("Control strength", key, strength=v))
        self.start.valueChanged.connect(lambda v: self._edit("Control range", start=v))
        self.end.valueChanged.connect(lambda v: self._edit("Control range", end=v))
        self.low.valueChanged.connect(lambda v: self._edit("Canny thresholds", low_threshold=v))
        self.high.valueChanged.connect(lambda v: self._edit("Canny thresholds", high_threshold=v))
        self.invert.toggled.connect(lambda on: self._edit("Invert the drawing", invert=on))
        self.choose.clicked.connect(self.pick_picture)
        self.preview.dropped.connect(self.picture_dropped)
        self.use_picture.clicked.connect(
            lambda: self._edit("Use the picture", image=None, image_name="")
        )

    def _add_kinds(self) -> dict[str, str]:
        """Fill the type combo; a type whose detector files are missing is shown greyed out,
        its reason (what to put where) as its tooltip. Returns kind → reason for those."""
        unavailable = {}
        items = self.kind.model()
        for kind in CONTROL_KINDS:
            label = KIND_LABELS.get(kind, kind)
            reason = unavailable_reason(kind)
            if reason is None:
                self.kind.addItem(label, kind)
                continue
            unavailable[kind] = reason
            self.kind.addItem(f"{label}: unavailable", kind)
            index = self.kind.count() - 1
            self.kind.setItemData(
                index, plain_tooltip(as_sentence(reason)), Qt.ItemDataRole.ToolTipRole
            )
            if isinstance(items, QStandardItemModel):  # a QComboBox's own model
                item = items.item(index)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
        return unavailable

    def _on_model_edited(self) -> None:
        self._edit("ControlNet model", model=self.model.text().strip())

    def show_entry(self, number: int, entry: ControlEntry, shown: bool) -> None:
        layer = self.layer = entry.layer
        self.title.setText(f"Control layer {number}")
        widgets = (self.enabled, self.show_button, self.kind, self.start, self.end)
        blockers = [QSignalBlocker(w) for w in (*widgets, self.low, self.high, self.invert)]
        self.enabled.setChecked(layer.enabled)
        self.show_button.setChecked(shown)
        self.kind.setCurrentIndex(max(0, self.kind.findData(layer.kind)))
        reason = self.unavailable.get(layer.kind)  # e.g. a project made where it could run
        self.kind.setToolTip(plain_tooltip(as_sentence(reason)) if reason else "")
        if self.model.text().strip() != layer.model:
            self.model.setText(layer.model)
            self.model.setCursorPosition(0)  # a long reference shows its start
        self.strength.set_value(layer.strength)
        self.start.setValue(layer.start)
        self.end.setValue(layer.end)
        self.low.setValue(layer.low_threshold)
        self.high.setValue(layer.high_threshold)
        self.invert.setChecked(layer.invert)
        for blocker in blockers:
            blocker.unblock()
        canny = layer.kind == "canny"
        for widget in (self.thresholds_label, self.low, self.high):
            widget.setVisible(canny)
        self.invert.setVisible(layer.kind in ("scribble", "lineart"))
        if entry.image_lost:
            text = "Its picture is not in the metadata: choose it again."
        elif layer.image is not None:
            text = f"Made from {entry.image_name or 'a picture'} ({layer.image.width}×"
            text += f"{layer.image.height})"
        else:
            text = "Made from the input picture."
        self.picture_label.setText(text)
        self.use_picture.setEnabled(layer.image is not None or entry.image_lost)
        self.setProperty("inactive", not layer.enabled)

    def set_preview(self, image: Image.Image | None, text: str = "") -> None:
        """Show the control image's thumbnail (None: ``text`` instead; a long one shows its
        headline, up to the first ": ", and all of it as the tooltip)."""
        shown = text
        if len(text) > PREVIEW_TEXT_MAX and ": " in text:
            shown = text.split(": ", 1)[0] + "."
        self.preview.show_picture(image, shown)
        self.preview.setToolTip(plain_tooltip(text) if image is None and text else "")


class ReferenceRow(_Row):
    """One IP-Adapter reference: its picture (drop or choose), adapter model, scale and mode."""

    pick_picture = Signal()
    picture_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reference", parent)
        self.setObjectName("referenceRow")
        self.finish_header()
        self.picture = named(PictureDrop("drop a picture"), "referencePicture")
        self.choose = named(QPushButton("Choose…"), "referenceChoose")
        self.model, model_field = self._model_field(
            "referenceModel", "IP-Adapter: .safetensors, folder or hub id"
        )
        self.scale = named(ValueSlider(0.0, 2.0, 0.05), "referenceScale")
        self.mode = named(QComboBox(), "referenceMode")
        for mode in REFERENCE_MODES:
            self.mode.addItem(MODE_LABELS.get(mode, mode), mode)
        narrow(self.mode)
        self.picture_label = named(plain(QLabel()), "referencePictureName")
        self.picture_label.setWordWrap(True)
        grid = self.grid  # the picture on the left of its name, adapter and scale
        grid.addWidget(self.picture, 1, 0, 4, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.picture_label, 1, 1, 1, 2)
        grid.addWidget(self.choose, 2, 1, 1, 2, Qt.AlignmentFlag.AlignLeft)
        grid.addWidget(QLabel("Adapter"), 3, 1)
        grid.addLayout(model_field, 3, 2)
        grid.addWidget(QLabel("Mode"), 4, 1)
        grid.addWidget(self.mode, 4, 2)
        grid.addWidget(QLabel("Scale"), 5, 0)
        grid.addWidget(self.scale, 5, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        self.mode.setToolTip("Style and composition need an SDXL adapter that has them")

        self.choose.clicked.connect(self.pick_picture)
        self.picture.dropped.connect(self.picture_dropped)
        self.model.editingFinished.connect(
            lambda: self._edit("IP-Adapter model", model=self.model.text().strip())
        )
        self.scale.edited.connect(lambda v, key: self._edit("Reference scale", key, scale=v))
        self.mode.activated.connect(
            lambda _i: self._edit("Reference mode", mode=self.mode.currentData())
        )

    def show_entry(self, number: int, entry: ReferenceEntry) -> None:
        self.title.setText(f"Reference {number}")
        if self.model.text().strip() != entry.model:
            self.model.setText(entry.model)
            self.model.setCursorPosition(0)
        self.scale.set_value(entry.scale)
        with QSignalBlocker(self.mode):
            self.mode.setCurrentIndex(max(0, self.mode.findData(entry.mode)))
        self.picture.show_picture(entry.image)
        if entry.image is not None:
            text = f"{entry.image_name or 'Picture'} ({entry.image.width}×{entry.image.height})"
        elif entry.image_lost:
            text = "Its picture is not in the metadata: drop it again."
        else:
            text = "No picture yet: drop one or choose it."
        self.picture_label.setText(text)
