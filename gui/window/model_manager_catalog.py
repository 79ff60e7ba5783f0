"""The model manager's Download page: the curated models with family, size, licence, what each is
good for and whether it is already on disk; Download (byte progress), Cancel (the next Download
resumes) and Use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.events import ModelLoading
from core.library import catalog
from core.library.download import download_model
from gui.params.memory_mode import nvidia_driver_present
from gui.params.model_entries import family_label, format_size
from gui.qt_helpers import named, plain
from gui.window.model_manager_tasks import BackgroundTask, CancelFlag

# download(repo_id, emit, cancel, fp16) -> the local folder (core.library.download.download_model)
DownloadFunction = Callable[..., Any]
COLUMNS = ("Model", "Family", "Size", "Licence", "Good for", "On disk")
_ON_DISK = 5


def half_files_by_default(device: str, dtype: str) -> bool:
    """Whether fp16 files suit this computer: asked for, or an NVIDIA driver with precision auto
    (the engine then runs CUDA in fp16 and loads the same files)."""
    if dtype in ("fp16", "bf16"):
        return True
    return dtype == "auto" and device in ("auto", "cuda") and nvidia_driver_present()


class CatalogPage(QWidget):
    """The curated models. ``download(model_id)`` runs on a background thread."""

    model_chosen = Signal(str)  # a hub id to use for the next pass
    library_changed = Signal()  # a download finished: the picker lists it now

    def __init__(
        self,
        download: DownloadFunction = download_model,
        half_files: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._download = download
        self._task: BackgroundTask | None = None
        self._downloading = ""
        self.table = named(QTableWidget(0, len(COLUMNS)), "catalogTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.half_check = named(
            QCheckBox("fp16 files (half the size, for NVIDIA GPUs)"), "fp16Check"
        )
        self.half_check.setChecked(half_files)
        self.half_check.setToolTip(
            "Half-precision weights: what a CUDA run in fp16 loads. On a CPU or Mac the full "
            "files are loaded instead (a pass would fetch them)"
        )
        self.download_button = named(QPushButton("Download"), "downloadButton")
        self.cancel_button = named(QPushButton("Cancel"), "cancelDownloadButton")
        self.cancel_button.setToolTip("Stop the download; Download again resumes where it stopped")
        self.use_button = named(QPushButton("Use for the next pass"), "useModelButton")
        self.progress = named(QProgressBar(), "downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()  # until the first download
        self.status_label = plain(named(QLabel(), "downloadStatusLabel"))
        self.status_label.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.half_check)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        column = QVBoxLayout(self)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.status_label)

        self.download_button.clicked.connect(self._on_download_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._on_use_clicked)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self._on_use_clicked())
        self._fill()
        self.status_label.setText(
            f"{catalog.DEFAULT_MODEL_ID} is the default: fast, img2img and inpaint on a laptop. "
            "Downloads go to the Hugging Face cache; set HF_TOKEN for gated models."
        )

    # -- public API ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return catalog.CATALOG[rows[0].row()].id

    def select(self, model_id: str) -> None:
        for row, entry in enumerate(catalog.CATALOG):
            if entry.id == model_id:
                self.table.selectRow(row)

    def download(self, model_id: str) -> None:
        """Fetch ``model_id`` on a background thread, with byte progress (resumes a cancelled
        one). Does nothing while another download runs."""
        if self._task is not None:
            return
        fp16 = self.half_check.isChecked()
        download = self._download

        def work(report: Callable[[Any], None], cancel: CancelFlag) -> Any:
            return download(model_id, report, cancel, fp16=fp16)

        self._downloading = model_id
        self._task = BackgroundTask(work)
        self._task.reported.connect(self._on_reported)
        self._task.succeeded.connect(self._on_succeeded)
        self._task.failed.connect(self._on_failed)
        self._task.cancelled.connect(self._on_cancelled)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status_label.setText(f"Downloading {model_id}…")
        self._set_status(model_id, "downloading…")
        self._task.start_work()
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the running download at its next chunk (what arrived stays for a resume)."""
        if self._task is not None:
            self._task.cancel()
            self.status_label.setText("Cancelling…")

    def refresh(self) -> None:
        """Read again which models are on disk."""
        for row, entry in enumerate(catalog.CATALOG):
            self._set_status(entry.id, _on_disk_text(entry), row)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        # Wrapped "Good for" lines: row heights follow the column widths once laid out.
        QTimer.singleShot(0, self.table.resizeRowsToContents)

    # -- building -------------------------------------------------------------------------------
    def _fill(self) -> None:
        self.table.setRowCount(len(catalog.CATALOG))
        for row, entry in enumerate(catalog.CATALOG):
            name = entry.name + (" (default)" if entry.id == catalog.DEFAULT_MODEL_ID else "")
            cells = (
                name,
                family_label(entry.family),
                format_size(entry.size_bytes),
                entry.licence + (" (gated)" if entry.gated else ""),
                entry.good_for,
                _on_disk_text(entry),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(_tooltip(entry))
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self.select(catalog.DEFAULT_MODEL_ID)
        self._update_buttons()

    def _set_status(self, model_id: str, text: str, row: int | None = None) -> None:
        """The On disk cell of ``model_id`` (the table has one row per catalog entry, in order)."""
        for index, entry in enumerate(catalog.CATALOG):
            if entry.id == model_id and row in (None, index):
                self.table.setItem(index, _ON_DISK, QTableWidgetItem(text))

    def _update_buttons(self) -> None:
        chosen = self.selected_id() is not None
        self.download_button.setEnabled(chosen and self._task is None)
        self.cancel_button.setEnabled(self._task is not None)
        self.use_button.setEnabled(chosen)

    # -- handlers -----------------------------------------------------------------------------
    def _on_download_clicked(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.download(model_id)

    def _on_use_clicked(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.model_chosen.emit(model_id)
            self.status_label.setText(f"{model_id} is the model for the next pass.")

    def _on_reported(self, event: object) -> None:
        if not isinstance(event, ModelLoading):
            return
        if event.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(event.fraction * 1000))
            self._set_status(self._downloading, f"downloading {event.fraction:.0%}")
        self.status_label.setText(event.message)

    def _end(self, text: str, progress: int) -> None:
        self._task = None
        self._downloading = ""
        self.progress.setRange(0, 1000)
        self.progress.setValue(progress)
        self.status_label.setText(text)
        self.refresh()
        self._update_buttons()

    def _on_succeeded(self, folder: object) -> None:
        model_id = self._downloading
        self._end(f"{model_id} is downloaded ({folder}).", 1000)
        self.library_changed.emit()

    def _on_failed(self, message: str) -> None:
        self._end(message, 0)

    def _on_cancelled(self) -> None:
        model_id = self._downloading
        self._end(f"Cancelled: Download {model_id} again to resume where it stopped.", 0)


def _on_disk_text(entry: catalog.CatalogEntry) -> str:
    return "downloaded" if catalog.cached_path(entry.id) is not None else "—"


def _tooltip(entry: catalog.CatalogEntry) -> str:
    gated = (
        "\nGated: accept its terms on huggingface.co, then set HF_TOKEN or log in (hf auth login)"
        if entry.gated
        else ""
    )
    return f"{entry.id}\n{entry.good_for}{gated}"
