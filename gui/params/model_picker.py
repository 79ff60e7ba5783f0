"""The model picker: a diffusers folder, a single .safetensors file or a typed hub id."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from gui.params.bindings import bind
from gui.params.state import GenerationParams
from gui.qt_helpers import named


class ModelPicker(QWidget):
    """An editable combo of recent models (objectName ``modelPicker``) plus browse buttons."""

    def __init__(self, state: GenerationParams, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPickerBox")
        self._state = state
        self.combo = named(QComboBox(), "modelPicker")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(12)
        line_edit = self.combo.lineEdit()  # the combo is editable: it has one
        if line_edit is not None:
            line_edit.setPlaceholderText("folder, .safetensors file or hub id")
        self.combo.setToolTip(
            "A diffusers model folder, a single-file .safetensors checkpoint, or a Hugging Face "
            "repo id such as runwayml/stable-diffusion-v1-5"
        )
        folder_button = named(QPushButton("Folder…"), "modelFolderButton")
        folder_button.setToolTip("Choose a diffusers model folder (with model_index.json)")
        file_button = named(QPushButton("File…"), "modelFileButton")
        file_button.setToolTip("Choose a single-file .safetensors checkpoint")
        self.config_edit = named(QLineEdit(), "modelConfigEdit")
        self.config_edit.setPlaceholderText("optional config folder")
        self.config_edit.setToolTip(
            "Only for single-file checkpoints: a diffusers folder whose configs describe it"
        )
        config_button = named(QPushButton("…"), "modelConfigButton")
        config_button.setToolTip("Choose a model config folder")
        config_button.setFixedWidth(32)

        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 0, 0, 1, 3)
        buttons = QHBoxLayout()
        buttons.addWidget(folder_button)
        buttons.addWidget(file_button)
        layout.addLayout(buttons, 1, 0, 1, 3)
        layout.addWidget(QLabel("Config:"), 2, 0)
        layout.addWidget(self.config_edit, 2, 1)
        layout.addWidget(config_button, 2, 2)
        layout.setColumnStretch(1, 1)

        folder_button.clicked.connect(self._on_folder_clicked)
        file_button.clicked.connect(self._on_file_clicked)
        config_button.clicked.connect(self._on_config_clicked)
        bind(state, "model", self.combo, convert=str.strip)
        bind(state, "model_config", self.config_edit, convert=str.strip)

    def set_recent(self, references: list[str]) -> None:
        """Offer ``references`` in the drop-down, keeping the current text."""
        text = self.combo.currentText()
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItems(references)
            self.combo.setEditText(text)

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
