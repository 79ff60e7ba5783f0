"""The model manager's Folders page: model folders registered in place (AUTOMATIC1111/Forge,
ComfyUI or any folder of .safetensors files) and what was found in each; Scan folder…, Remove
(forgets a folder, its files stay) and Use."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ModelError
from core.library.registry import LibraryItem, ModelLibrary, ScanProblem
from gui.params.model_entries import PICKER_KINDS, family_label, format_size
from gui.qt_helpers import named, plain
from gui.window.model_manager_tasks import BackgroundTask, CancelFlag

COLUMNS = ("Name", "Kind", "Family", "Size", "File")
_KIND_NAMES = {
    "checkpoint": "checkpoint",
    "diffusers": "diffusers folder",
    "unet": "UNet/transformer",
    "lora": "LoRA",
    "controlnet": "ControlNet",
    "vae": "VAE",
    "text_encoder": "text encoder",
    "ip_adapter": "IP-Adapter",
}


def counted(count: int, kind: str) -> str:
    """ "1 checkpoint", "3 LoRAs"."""
    name = _KIND_NAMES.get(kind, kind)
    return f"{count} {name}" + ("" if count == 1 else "s")


def found_summary(items: list[LibraryItem]) -> str:
    """ "3 checkpoints, 2 LoRAs, 1 VAE" for what a scan found."""
    counts = Counter(item.kind for item in items)
    return ", ".join(counted(n, kind) for kind, n in counts.most_common())


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class FoldersPage(QWidget):
    """Registered folders on the left, the files found in the selected one on the right."""

    model_chosen = Signal(str)  # a file or folder path to use for the next pass
    library_changed = Signal()  # a scan or a removal: the picker lists something else now

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self._task: BackgroundTask | None = None
        self._scanning: Path | None = None
        self._found: list[LibraryItem] = []
        self._problems: list[ScanProblem] = []  # files a scan refused (pickles, unreadable)
        self._shown: list[LibraryItem] = []  # the table's rows
        self.folder_list = named(QListWidget(), "scannedFolderList")
        self.folder_list.setToolTip("Folders registered in place: nothing was copied")
        self.table = named(QTableWidget(0, len(COLUMNS)), "libraryItemTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.scan_button = named(QPushButton("Scan folder…"), "scanFolderButton")
        self.scan_button.setToolTip(
            "Register a model folder where it is (AUTOMATIC1111/Forge, ComfyUI, or any folder "
            "of .safetensors files): each file is listed with its kind, family and hash"
        )
        self.cancel_button = named(QPushButton("Cancel"), "cancelScanButton")
        self.remove_button = named(QPushButton("Remove"), "removeFolderButton")
        self.remove_button.setToolTip("Forget the selected folder (its files stay where they are)")
        self.use_button = named(QPushButton("Use for the next pass"), "useItemButton")
        self.status_label = plain(named(QLabel(), "scanStatusLabel"))
        self.status_label.setWordWrap(True)

        split = QSplitter()
        split.addWidget(self.folder_list)
        split.addWidget(self.table)
        split.setStretchFactor(1, 3)
        buttons = QHBoxLayout()
        for button in (self.scan_button, self.cancel_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        column = QVBoxLayout(self)
        column.addWidget(split, 1)
        column.addLayout(buttons)
        column.addWidget(self.status_label)

        self.scan_button.clicked.connect(self._on_scan_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button.clicked.connect(self._on_use_clicked)
        self.folder_list.currentRowChanged.connect(lambda _row: self._show_items())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self._on_use_clicked())
        self.refresh()
        self.status_label.setText(
            library.warnings[-1]
            if library.warnings
            else "Scan a folder to use the models you already have, without copying them."
        )

    # -- public API ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None

    def refresh(self) -> None:
        """Read the registered folders and their files again."""
        current = self.selected_folder()
        self.folder_list.clear()
        for folder in self._library.folders():
            item = QListWidgetItem(folder.name or str(folder))
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            item.setToolTip(str(folder))
            self.folder_list.addItem(item)
        self.select_folder(current)
        self._show_items()

    def selected_folder(self) -> Path | None:
        item = self.folder_list.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select_folder(self, folder: Path | None) -> None:
        for row in range(self.folder_list.count()):
            if (
                folder is not None
                and Path(self.folder_list.item(row).data(Qt.ItemDataRole.UserRole)) == folder
            ):
                self.folder_list.setCurrentRow(row)
                return

    def scan(self, folder: Path) -> None:
        """Register ``folder`` in place on a background thread; files appear as they are found."""
        if self._task is not None:
            return
        library = self._library

        def work(report: Callable[[Any], None], cancel: CancelFlag) -> list[LibraryItem]:
            return library.scan(folder, on_item=report, cancel=cancel, on_problem=report)

        self._scanning, self._found, self._problems = folder, [], []
        self.folder_list.setCurrentRow(-1)
        self.table.setRowCount(0)
        self._shown = []
        self._task = BackgroundTask(work)
        self._task.reported.connect(self._on_item_found)
        self._task.succeeded.connect(self._on_scan_done)
        self._task.failed.connect(self._on_scan_failed)
        self._task.cancelled.connect(self._on_scan_cancelled)
        self.status_label.setText(f"Scanning {folder}…")
        self._task.start_work()
        self._update_buttons()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.status_label.setText("Cancelling…")

    def remove_selected(self) -> None:
        """Forget the selected folder and what was found in it (no file is deleted)."""
        folder = self.selected_folder()
        if folder is None or self._task is not None:
            return
        try:
            self._library.remove(str(folder))
        except ModelError as exc:  # a library.json of a newer version, or locked too long
            self.status_label.setText(str(exc))
            return
        self.refresh()
        self.status_label.setText(f"Forgot {folder} (its files stay where they are).")
        self.library_changed.emit()

    # -- showing --------------------------------------------------------------------------------
    def _show_items(self) -> None:
        folder = self.selected_folder()
        items = [
            item
            for item in self._library.items()
            if folder is None or _inside(Path(item.path), folder)
        ]
        self.table.setRowCount(0)
        self._shown = []
        for item in items:
            self._append_row(item)
        self._update_buttons()

    def _append_row(self, item: LibraryItem) -> None:
        self._shown.append(item)
        row = self.table.rowCount()
        self.table.insertRow(row)
        cells = (
            item.name,
            item.kind,
            family_label(item.family) if item.family else "—",
            format_size(item.size_bytes),
            str(item.path),
        )
        for column, text in enumerate(cells):
            cell = QTableWidgetItem(text)
            cell.setToolTip(f"{item.path}\nhash {item.hash}" if item.hash else str(item.path))
            self.table.setItem(row, column, cell)

    def _selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self._shown[rows[0].row()]
        if item.kind not in PICKER_KINDS:
            return None  # a LoRA, ControlNet or VAE is not a model to generate with
        return str(item.path)

    def _update_buttons(self) -> None:
        idle = self._task is None
        self.scan_button.setEnabled(idle)
        self.cancel_button.setEnabled(not idle)
        self.remove_button.setEnabled(idle and self.selected_folder() is not None)
        self.use_button.setEnabled(self._selected_model() is not None)

    # -- handlers -----------------------------------------------------------------------------
    def _on_scan_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a model folder (AUTOMATIC1111, ComfyUI or any folder of models)"
        )
        if folder:
            self.scan(Path(folder))

    def _on_use_clicked(self) -> None:
        model = self._selected_model()
        if model:
            self.model_chosen.emit(model)
            self.status_label.setText(f"{Path(model).name} is the model for the next pass.")

    def _on_item_found(self, item: object) -> None:
        if isinstance(item, ScanProblem):
            self._problems.append(item)
        elif isinstance(item, LibraryItem):
            self._found.append(item)
            self._append_row(item)
            self.status_label.setText(f"Scanning {self._scanning}… {len(self._found)} found")

    def _end(self, text: str) -> None:
        folder = self._scanning
        self._task, self._scanning = None, None
        self.refresh()
        self.select_folder(folder)
        problems = self._problems
        if problems:
            text += f" Not registered: {counted(len(problems), 'file')} ({problems[0].reason}"
            text += ", …)" if len(problems) > 1 else ")"
        self.status_label.setText(text)
        self.status_label.setToolTip("\n".join(f"{p.path}: {p.reason}" for p in problems))
        self._update_buttons()
        self.library_changed.emit()

    def _on_scan_done(self, items: object) -> None:
        found = list(items) if isinstance(items, list) else self._found
        if not found:
            self._end(f"No model files found in {self._scanning}.")
            return
        self._end(
            f"Registered {counted(len(found), 'file')} in {self._scanning}: {found_summary(found)}."
        )

    def _on_scan_failed(self, message: str) -> None:
        self._end(message)

    def _on_scan_cancelled(self) -> None:
        self._end(f"Scan of {self._scanning} cancelled.")
