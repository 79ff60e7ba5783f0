"""The batch dialog: pick an input and an output folder, start, watch progress, cancel.

The dialog runs nothing: Start emits ``start_requested(BatchSettings)`` and Cancel emits
``cancel_requested``; the caller drives it with ``set_running``, ``on_progress``,
``on_finished`` and ``on_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QCloseEvent, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.workflows.batch import BatchReport, list_inputs, plan_outputs
from core.workflows.common import WorkflowProgress
from gui.qt_helpers import named, plain
from gui.reason_label import WARNING_STYLE, ReasonLabel
from gui.run.progress_text import format_eta

_STATUS_COLORS = {"failed": QColor(220, 70, 60), "skipped": QColor(140, 140, 140)}


@dataclass(frozen=True)
class BatchSettings:
    input_dir: str
    output_dir: str
    overwrite: bool
    allow_in_place: bool
    fix_faces: bool = False  # refine each picture's faces before it is written


class BatchDialog(QDialog):
    """Settings, progress bar and per-item log of one batch run (non-modal)."""

    start_requested = Signal(object)  # BatchSettings
    cancel_requested = Signal()

    def __init__(
        self, input_dir: str = "", output_dir: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("batchDialog")
        self.setWindowTitle("Batch")
        self.setModal(False)
        self._running = False
        self._close_when_finished = False
        self._image_count = 0

        self.input_edit = named(QLineEdit(input_dir), "batchInputEdit")
        self.input_edit.setPlaceholderText("Folder of pictures to process")
        self.output_edit = named(QLineEdit(output_dir), "batchOutputEdit")
        self.output_edit.setPlaceholderText("Folder for the results (PNG with settings)")
        self.input_browse = named(QPushButton("Browse…"), "batchInputBrowseButton")
        self.output_browse = named(QPushButton("Browse…"), "batchOutputBrowseButton")
        self.overwrite_check = named(
            QCheckBox("Overwrite existing outputs"),
            "batchOverwriteCheck",
        )
        self.overwrite_check.setToolTip(
            "Unticked, a re-run resumes: outputs made with the same settings are skipped, and "
            "outputs made with other settings stop the batch before anything runs."
        )
        self.in_place_check = named(
            QCheckBox("Allow writing into the input folder"), "batchInPlaceCheck"
        )
        self.in_place_check.setToolTip(
            "Outputs are then named <name>_img2img.png; the originals are never replaced"
        )
        self.fix_faces_check = named(QCheckBox("Fix faces after each pass"), "batchFixFacesCheck")
        self.fix_faces_check.setToolTip(
            "Refine each face found in a result at full detail before it is written"
        )
        self.settings_label = plain(named(QLabel(), "batchSettingsLabel"))
        self.settings_label.setWordWrap(True)
        self.count_label = plain(named(QLabel(), "batchCountLabel"))
        self.reason_label = ReasonLabel("batchReasonLabel")
        self.progress_bar = named(QProgressBar(), "batchProgressBar")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.progress_bar.setTextVisible(True)
        self.log = named(QListWidget(), "batchLog")
        self.summary_label = plain(named(QLabel(), "batchSummaryLabel"))
        self.summary_label.setWordWrap(True)
        self.start_button = named(QPushButton("Start"), "batchStartButton")
        self.cancel_button = named(QPushButton("Cancel"), "batchCancelButton")
        self.close_button = named(QPushButton("Close"), "batchCloseButton")

        form = QFormLayout()
        form.addRow("Input folder", self._row(self.input_edit, self.input_browse))
        form.addRow("Output folder", self._row(self.output_edit, self.output_browse))
        form.addRow("", self.overwrite_check)
        form.addRow("", self.in_place_check)
        form.addRow("", self.fix_faces_check)
        form.addRow("Settings", self.settings_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.summary_label)
        layout.addLayout(buttons)
        self.resize(640, 480)

        self.input_edit.textChanged.connect(self._validate)
        self.output_edit.textChanged.connect(self._validate)
        self.in_place_check.toggled.connect(self._validate)
        self.input_browse.clicked.connect(self._on_browse_input)
        self.output_browse.clicked.connect(self._on_browse_output)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.close_button.clicked.connect(self.close)
        self.set_running(False)

    @staticmethod
    def _row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    # -- settings -----------------------------------------------------------------------------
    def settings(self) -> BatchSettings:
        return BatchSettings(
            self.input_edit.text().strip(),
            self.output_edit.text().strip(),
            self.overwrite_check.isChecked(),
            self.in_place_check.isChecked(),
            self.fix_faces_check.isChecked(),
        )

    def set_settings_summary(self, text: str) -> None:
        """Show the generation settings the batch will use (prompt, strength, steps, model…)."""
        self.settings_label.setText(text)

    def image_count(self) -> int:
        """The number of pictures in the input folder (0 when it cannot be read)."""
        return self._image_count

    def reason(self) -> str:
        """Why Start is disabled ("" when the settings are valid or a batch is running)."""
        return self.reason_label.text()

    def is_running(self) -> bool:
        return self._running

    # -- intents ------------------------------------------------------------------------------
    def start(self) -> None:
        """Emit ``start_requested`` with the settings when they are valid and nothing runs."""
        if self._running or self._validate():
            return
        self.start_requested.emit(self.settings())

    def set_running(self, running: bool) -> None:
        """Lock the fields while a batch runs; a new run clears the previous log and summary."""
        if running and not self._running:
            self.log.clear()
            self.summary_label.clear()
            self.summary_label.setStyleSheet("")
            self.progress_bar.setRange(0, max(1, self._image_count))
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("starting…")
        self._running = running
        for widget in (
            self.input_edit,
            self.output_edit,
            self.input_browse,
            self.output_browse,
            self.overwrite_check,
            self.in_place_check,
            self.fix_faces_check,
        ):
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setText("Cancel")
        if running:
            self.start_button.setEnabled(False)
        else:
            self._validate()

    def on_progress(self, progress: WorkflowProgress) -> None:
        """Item k of n started (bar text "k/n · name · ETA m:ss") or ended (a log line)."""
        self.progress_bar.setRange(0, max(1, progress.total))
        finished = progress.status != "running"
        self.progress_bar.setValue(progress.index if finished else progress.index - 1)
        text = f"{progress.index}/{progress.total}"
        if progress.label:
            text += f" · {progress.label}"
        eta = format_eta(progress.eta)
        if eta:
            text += f" · ETA {eta}"
        self.progress_bar.setFormat(text)
        if finished:
            line = f"{progress.status}: {progress.label or f'item {progress.index}'}"
            if progress.message:
                line += f" — {progress.message}"
            item = QListWidgetItem(line)
            if progress.status in _STATUS_COLORS:
                item.setForeground(QBrush(_STATUS_COLORS[progress.status]))
            self.log.addItem(item)
            self.log.scrollToBottom()

    def on_finished(self, report: BatchReport) -> None:
        """Show the report's summary (as a warning when items failed) and allow a new run."""
        processed = len(report.done) + len(report.skipped) + len(report.failed)
        self.progress_bar.setRange(0, max(1, report.total))
        self.progress_bar.setValue(processed)
        self.progress_bar.setFormat(f"{processed}/{report.total}")
        self.summary_label.setText(report.summary())
        self.summary_label.setStyleSheet(WARNING_STYLE if report.failed else "")
        self.summary_label.setProperty("warning", bool(report.failed))
        self._finish()

    def on_failed(self, message: str) -> None:
        """The batch stopped with an error (e.g. the model failed to load)."""
        self.summary_label.setText(f"batch stopped: {message}")
        self.summary_label.setStyleSheet(WARNING_STYLE)
        self.summary_label.setProperty("warning", True)
        self._finish()

    def confirm_cancel(self) -> bool:
        """Ask whether to cancel the running batch before closing."""
        answer = QMessageBox.question(
            self,
            "Batch running",
            "Cancel the running batch? Finished pictures stay in the output folder.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- Qt overrides -------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """While running, closing asks to cancel; the dialog closes once the batch has stopped."""
        if not self._running:
            super().closeEvent(event)
            return
        event.ignore()
        if self._close_when_finished or self.confirm_cancel():
            self._close_when_finished = True
            self._request_cancel()

    def reject(self) -> None:
        if self._running:
            self.close()  # Escape goes through closeEvent's question too
            return
        super().reject()

    # -- handlers -----------------------------------------------------------------------------
    def _finish(self) -> None:
        self.set_running(False)
        if self._close_when_finished:
            self._close_when_finished = False
            self.close()

    def _request_cancel(self) -> None:
        if not self._running:
            return
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancel_requested.emit()

    def _on_cancel_clicked(self) -> None:
        self._request_cancel()

    def _validate(self) -> str | None:
        """Check folders (count the inputs, plan the outputs); show and return the reason."""
        settings = self.settings()
        reason = None
        self._image_count = 0
        self.count_label.clear()
        if not settings.input_dir:
            reason = "choose an input folder"
        else:
            try:
                sources = list_inputs(settings.input_dir)
            except UserError as exc:
                reason = str(exc)
            else:
                self._image_count = len(sources)
                plural = "" if len(sources) == 1 else "s"
                self.count_label.setText(f"{len(sources)} image{plural} in the input folder")
                reason = self._output_problem(settings, sources)
        self.reason_label.set_reason(reason)
        self.start_button.setEnabled(reason is None and not self._running)
        return reason

    @staticmethod
    def _output_problem(settings: BatchSettings, sources: list[Path]) -> str | None:
        if not settings.output_dir:
            return "choose an output folder"
        same = Path(settings.output_dir).resolve() == Path(settings.input_dir).resolve()
        if same and not settings.allow_in_place:
            return (
                "the output folder is the input folder: choose another one, or tick "
                "“Allow writing into the input folder”"
            )
        try:
            plan_outputs(sources, settings.output_dir, settings.allow_in_place)
        except UserError as exc:
            return str(exc)
        return None

    def _on_browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Input folder", self.input_edit.text())
        if folder:
            self.input_edit.setText(folder)

    def _on_browse_output(self) -> None:
        start = self.output_edit.text() or self.input_edit.text()
        folder = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if folder:
            self.output_edit.setText(folder)
