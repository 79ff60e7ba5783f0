"""The model picker: recent models, scanned files and cached hub models grouped by family, with
search; a folder, a single .safetensors file or a typed hub id work too.

The combo (objectName ``modelPicker``) shows names, the state holds references: choosing
"dreamshaper_8" under "SD 1.x" sets ``GenerationParams.model`` to that file's path, and
``model_family`` to its family (gui.params.edit_models.model_family), and the steps and CFG follow
a model of another kind (gui.params.sampling_defaults). With no model chosen, a
button offers the default model with its download size instead of an empty picker.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from core.library import catalog
from gui.params.bindings import bind
from gui.params.edit_models import model_family
from gui.params.model_entries import (
    EntrySource,
    PickerEntry,
    available_entries,
    format_size,
    group_by_family,
)
from gui.params.sampling_defaults import sampling_defaults
from gui.params.state import GenerationParams
from gui.qt_helpers import named

REFERENCE_ROLE = Qt.ItemDataRole.UserRole  # the model reference behind a shown name
_PLACEHOLDER = "search, or a folder, .safetensors file or hub id"


def default_offer_text() -> str:
    """The first-run offer: "Use SD-Turbo (2.6 GB download)" (or "(downloaded)" when cached)."""
    entry = catalog.entry(catalog.DEFAULT_MODEL_ID)
    if entry is None:
        return f"Use {catalog.DEFAULT_MODEL_ID}"
    if catalog.cached_path(entry.id) is not None:
        return f"Use {entry.name} (downloaded)"
    return f"Use {entry.name} ({format_size(entry.size_bytes)} download)"


class ModelPicker(QWidget):
    """An editable, searchable combo of models (objectName ``modelPicker``) plus browse buttons.

    ``entries`` lists what is on this computer (scanned and cached models); ``refresh()`` reads it
    again (after a scan or a download). ``manage_requested`` asks for the model manager.
    """

    manage_requested = Signal()

    def __init__(
        self,
        state: GenerationParams,
        parent: QWidget | None = None,
        entries: EntrySource = available_entries,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelPickerBox")
        self._state = state
        self._entries_source = entries
        self._recent: list[str] = []
        self._entries: list[PickerEntry] = []  # what the last fill listed (families come from it)
        self._worker_models: list[tuple[str, str]] | None = None  # (name, id) in Remote mode
        self._model = QStandardItemModel(self)
        self.combo = named(QComboBox(), "modelPicker")
        self.combo.setModel(self._model)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(12)
        self.combo.setMaxVisibleItems(20)
        self._search_model = QStringListModel(self)
        completer = QCompleter(self._search_model, self.combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.combo.setCompleter(completer)
        line_edit = self.combo.lineEdit()  # the combo is editable: it has one
        if line_edit is not None:
            line_edit.setPlaceholderText(_PLACEHOLDER)
            line_edit.setClearButtonEnabled(True)
        self.combo.setToolTip(
            "Type to search your models, or give a diffusers model folder, a single-file "
            ".safetensors checkpoint or a Hugging Face repo id such as stabilityai/sd-turbo"
        )
        self.default_button = named(QPushButton(), "useDefaultModelButton")
        self.default_button.clicked.connect(self._on_default_clicked)
        policy = self.default_button.sizePolicy()  # hidden once a model is set: its line stays,
        policy.setRetainSizeWhenHidden(True)  # so the panel below never jumps under the pointer
        self.default_button.setSizePolicy(policy)
        folder_button = named(QPushButton("Folder…"), "modelFolderButton")
        folder_button.setToolTip("Choose a diffusers model folder (with model_index.json)")
        file_button = named(QPushButton("File…"), "modelFileButton")
        file_button.setToolTip("Choose a single-file .safetensors checkpoint")
        manage_button = named(QPushButton("Models…"), "manageModelsButton")
        manage_button.setToolTip("Download models, scan your model folders (Ctrl+M)")
        manage_button.clicked.connect(self.manage_requested)
        self.config_edit = named(QLineEdit(), "modelConfigEdit")
        self.config_edit.setPlaceholderText("optional config folder")
        self.config_edit.setToolTip(
            "Only for single-file checkpoints: a diffusers folder whose configs describe it"
        )
        config_button = named(QPushButton("…"), "modelConfigButton")
        config_button.setToolTip("Choose a model config folder")
        config_button.setFixedWidth(32)

        self._grid = layout = QGridLayout(self)  # row 0: where passes run (add_worker_choice)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1, 0, 1, 3)
        layout.addWidget(self.default_button, 2, 0, 1, 3)
        buttons = QHBoxLayout()
        buttons.addWidget(folder_button)
        buttons.addWidget(file_button)
        buttons.addWidget(manage_button)
        layout.addLayout(buttons, 3, 0, 1, 3)
        config_label = QLabel("Config:")
        layout.addWidget(config_label, 4, 0)
        layout.addWidget(self.config_edit, 4, 1)
        layout.addWidget(config_button, 4, 2)
        layout.setColumnStretch(1, 1)
        # This computer's files: hidden while a remote worker's models are offered.
        self._local_widgets: tuple[QWidget, ...] = (folder_button, file_button, manage_button)
        self._local_widgets += (config_label, self.config_edit, config_button)

        folder_button.clicked.connect(self._on_folder_clicked)
        file_button.clicked.connect(self._on_file_clicked)
        config_button.clicked.connect(self._on_config_clicked)
        self._fill()
        bind(
            state,
            "model",
            self.combo,
            getter=self.current_reference,
            setter=self.show_reference,
            signal=self.combo.currentTextChanged,
        )
        bind(state, "model_config", self.config_edit, convert=str.strip)
        unsubscribe = state.subscribe("model", self._on_model_changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._on_model_changed(state.model)

    # -- public API ---------------------------------------------------------------------------
    def set_recent(self, references: list[str]) -> None:
        """Offer ``references`` at the top of the drop-down, keeping the current model."""
        self._recent = [r for r in references if r]
        self._fill()

    def add_worker_choice(self, widget: QWidget) -> None:
        """Show where passes run (gui.params.worker_choice) above the models."""
        self._grid.addWidget(widget, 0, 0, 1, 3)

    def set_worker_models(self, models: list[tuple[str, str]] | None) -> None:
        """Offer only a remote worker's models, ``(name, id)`` pairs; None: this computer's."""
        self._worker_models = None if models is None else list(models)
        for widget in self._local_widgets:
            widget.setVisible(models is None)
        self.refresh()

    def refresh(self) -> None:
        """Read the scanned and cached models again (after a scan, a download or a removal)."""
        self._fill()
        self._on_model_changed(self._state.model)

    def current_reference(self) -> str:
        """The model the combo stands for: a listed name's reference, else the typed text."""
        text = self.combo.currentText()
        index = self.combo.findText(text, Qt.MatchFlag.MatchExactly)
        if index >= 0:
            reference = self.combo.itemData(index, REFERENCE_ROLE)
            if reference:
                return str(reference)
        return text.strip()

    def show_reference(self, reference: str) -> None:
        """Select the listed entry for ``reference`` (showing its name), else show it as text."""
        for index in range(self.combo.count()):
            if self.combo.itemData(index, REFERENCE_ROLE) == reference:
                self.combo.setCurrentIndex(index)
                return
        self.combo.setEditText(reference)

    def listed(self) -> list[tuple[str, str]]:
        """What the drop-down shows, as ``(text, reference)`` ("" for a family heading)."""
        return [
            (self.combo.itemText(i), str(self.combo.itemData(i, REFERENCE_ROLE) or ""))
            for i in range(self.combo.count())
        ]

    # -- filling --------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Rebuild the list: recent references first, then each family's models under a heading."""
        if self._worker_models is not None:
            self._fill_worker_models(self._worker_models)
            return
        entries = self._entries = self._entries_source()
        with QSignalBlocker(self.combo):
            self._model.clear()
            for reference in self._recent:
                self._model.appendRow(_choice_item(reference, reference, reference))
            for label, group in group_by_family(entries):
                self._model.appendRow(_heading_item(label))
                for entry in group:
                    self._model.appendRow(_entry_item(entry))
            self.show_reference(self._state.model)
        names = [*self._recent, *(e.name for e in entries)]
        self._search_model.setStringList(list(dict.fromkeys(names)))

    def _fill_worker_models(self, models: list[tuple[str, str]]) -> None:
        self._entries = []  # the worker's models: families from the catalog by id
        with QSignalBlocker(self.combo):
            self._model.clear()
            self._model.appendRow(_heading_item("On the worker"))
            for name, model_id in models:
                self._model.appendRow(_choice_item(name, model_id, model_id))
            self.show_reference(self._state.model)
        self._search_model.setStringList([name for name, _ in models])

    # -- handlers -----------------------------------------------------------------------------
    def _on_model_changed(self, model: str) -> None:
        """Find the model's family (the steps and CFG follow it: GenerationParams.
        follow_model_defaults); no model chosen: offer the default one instead of an empty
        picker."""
        self._state.model_family = model_family(model, self._entries)
        self._state.follow_model_defaults(sampling_defaults(self._state.model_family, model))
        if not model:
            self.default_button.setText(default_offer_text())
            entry = catalog.entry(catalog.DEFAULT_MODEL_ID)
            if entry is not None:
                self.default_button.setToolTip(
                    f"{entry.id}: {entry.good_for} (licence: {entry.licence}). It downloads "
                    "once, with progress, when the first pass starts."
                )
        self.default_button.setVisible(not model and self._worker_models is None)

    def _on_default_clicked(self) -> None:
        self._state.model = catalog.DEFAULT_MODEL_ID

    def _start_folder(self) -> str:
        current = Path(self._state.model) if self._state.model else None
        return str(current.parent) if current and current.exists() else ""

    def _on_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a diffusers model folder", self._start_folder()
        )
        if folder:
            self._state.model = folder

    def _on_file_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a checkpoint", self._start_folder(), "Safetensors (*.safetensors)"
        )
        if path:
            self._state.model = path

    def _on_config_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model config folder")
        if folder:
            self._state.model_config = folder


def _choice_item(text: str, reference: str, tooltip: str) -> QStandardItem:
    item = QStandardItem(text)
    item.setData(reference, REFERENCE_ROLE)
    item.setToolTip(tooltip)
    return item


def _entry_item(entry: PickerEntry) -> QStandardItem:
    return _choice_item(entry.name, entry.reference, entry.tooltip)


def _heading_item(label: str) -> QStandardItem:
    """A family heading: shown, never chosen."""
    item = QStandardItem(label)
    item.setFlags(Qt.ItemFlag.NoItemFlags)
    font = QFont()
    font.setBold(True)
    item.setFont(font)
    item.setForeground(QColor(70, 70, 70))  # readable, unlike the disabled grey
    item.setBackground(QColor(0, 0, 0, 20))
    return item
