"""The main window: canvas in the centre, generation and history docks, toolbar, menus.

It wires widgets to the worker and the pass tree; generation itself lives in ``core``.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import UserError
from core.events import PassResult, PassStarted
from core.history import PassRecord, PassTree
from core.requests import PassRequest
from gui.canvas import Canvas
from gui.commands import ApplyPassCommand
from gui.file_actions import FileActions
from gui.generation_panel import GenerationPanel
from gui.history_panel import HistoryPanel
from gui.mask_toolbar import MaskToolBar
from gui.settings import Settings
from gui.state import GenerationParams
from gui.strength_layer import StrengthToolBar
from gui.worker import PassJob, PassWorker, WorkflowJob
from gui.workflow_controller import WorkflowController

APP_NAME = "Img2Img Studio"


class MainWindow(QMainWindow):
    """The application window. ``generate()`` starts a pass; signals report back to it."""

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.settings = settings or Settings.load()
        self.undo_stack = QUndoStack(self)
        self.tree = PassTree()
        self.state = GenerationParams()
        self.worker = PassWorker()
        self._busy = False
        self._job_source_id: str | None = None
        self._shown_id: str | None = None
        self._shown_image = None
        self._closed = False
        self._resetting = False

        # 1. Central area: an error banner above the canvas.
        self.canvas = Canvas(self.undo_stack)
        self.error_banner, self.error_label = self._build_error_banner()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.error_banner)
        column.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        # 2. Docks: generation (with Generate / Cancel / progress) and history.
        self.panel = GenerationPanel(self.state)
        self.history = HistoryPanel(self.tree)
        self._add_dock(
            "Generate",
            "generationDock",
            self._build_generate_area(),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self._add_dock("History", "historyDock", self.history, Qt.DockWidgetArea.LeftDockWidgetArea)

        # 3. Toolbar, menus, status bar.
        self.mask_toolbar = MaskToolBar(self.canvas, self)
        self.addToolBar(self.mask_toolbar)
        self.strength_toolbar = StrengthToolBar(self.canvas, self)
        self.addToolBar(self.strength_toolbar)
        self.files = FileActions(self)
        self.workflows = WorkflowController(self)
        self.canvas.viewport().installEventFilter(self.files)
        self._build_menus()
        self.status_label = QLabel(objectName="inputLabel")
        self.statusBar().addPermanentWidget(self.status_label)
        self.statusBar().showMessage("Open an image (Ctrl+O, drop or paste) and choose a model.")

        # 4. Wiring.
        self.tree.subscribe(self._on_tree_changed)
        self.history.record_shown.connect(self.show_record)
        self.history.continue_requested.connect(self.continue_from)
        self.canvas.mask_changed.connect(self._on_mask_changed)
        self.state.subscribe("steps", self.strength_toolbar.set_total_steps)
        self.canvas.strength_map_changed.connect(self._update_status_label)
        self.worker.loading.connect(self._on_worker_loading)
        self.worker.started.connect(self._on_pass_started)
        self.worker.preview.connect(self._on_preview)
        self.worker.finished.connect(self._on_pass_finished)
        self.worker.cancelled.connect(self._on_pass_cancelled)
        self.worker.failed.connect(self._on_pass_failed)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

        # 5. Restore settings.
        self._restore_settings()
        self._update_busy_ui()
        self._on_mask_changed()

    # -- building ---------------------------------------------------------------------------------
    def _add_dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_error_banner(self) -> tuple[QFrame, QLabel]:
        banner = QFrame(objectName="errorBanner")
        banner.setStyleSheet(
            "#errorBanner { background: #fde2e1; border-bottom: 1px solid #e0a3a0; }"
            "#errorBanner QLabel { color: #7a1712; }"
        )
        label = QLabel(objectName="errorLabel")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", objectName="errorCloseButton")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(banner.hide)
        row = QHBoxLayout(banner)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(label, 1)
        row.addWidget(close)
        banner.hide()
        return banner, label

    def _build_generate_area(self) -> QWidget:
        self.generate_button = QPushButton("Generate", objectName="generateButton")
        self.generate_button.setToolTip("Run one pass on the input image (Ctrl+Enter)")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(32)
        self.cancel_button = QPushButton("Cancel", objectName="cancelButton")
        self.cancel_button.setToolTip("Stop the running pass (Esc)")
        self.cancel_button.setMinimumHeight(32)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar(objectName="progressBar")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Idle")
        self.progress_bar.setValue(0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        area = QWidget()
        column = QVBoxLayout(area)
        column.setContentsMargins(0, 0, 0, 6)
        column.addWidget(self.panel, 1)
        footer = QVBoxLayout()
        footer.setContentsMargins(6, 0, 6, 0)
        footer.addLayout(buttons)
        footer.addWidget(self.progress_bar)
        column.addLayout(footer)
        area.setMinimumWidth(360)
        return area

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in self.files.actions():
            if action is None:
                file_menu.addSeparator()
            else:
                file_menu.addAction(action)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("Quit", self.close)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

        run_menu = bar.addMenu("&Generate")
        self.generate_action = QAction("Generate", self)
        self.generate_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.generate_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.generate_action.triggered.connect(self.generate)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.triggered.connect(self.cancel)
        run_menu.addAction(self.generate_action)
        run_menu.addAction(self.cancel_action)
        workflow_menu = bar.addMenu("&Workflows")
        for action in self.workflows.actions:
            workflow_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction("Fit to window", self.canvas.fit)
        view_menu.addAction("Actual size (100%)", self.canvas.zoom_100)
        view_menu.addSeparator()
        for dock in self.findChildren(QDockWidget):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(self.mask_toolbar.toggleViewAction())
        view_menu.addAction(self.strength_toolbar.toggleViewAction())

    # -- records and view -----------------------------------------------------------------
    def show_record(self, record_id: str) -> None:
        """Show a record in the canvas (the mask stays); the next pass's input is unchanged."""
        if record_id not in self.tree:
            return
        record = self.tree.get(record_id)
        if record.image is not self._shown_image:
            self.canvas.set_image(record.image, keep_mask=True)
            self._shown_image = record.image
        self._shown_id = record_id
        self._update_status_label()

    def continue_from(self, record_id: str) -> None:
        """Make a record the input of the next pass (new passes become its children)."""
        if record_id in self.tree:
            self.tree.select(record_id)

    def shown_record(self) -> PassRecord | None:
        return self.tree.get(self._shown_id) if self._shown_id in self.tree else None

    def set_root_image(self, image, name: str = "Original") -> None:
        """Start a new session from ``image``: new tree, empty mask, empty undo history."""
        self.canvas.set_image(image, keep_mask=False)
        self._shown_image = image
        self.undo_stack.clear()
        self._resetting = True
        try:
            self.tree.set_root(image, name)
        finally:
            self._resetting = False
        self.canvas.fit()
        self.error_banner.hide()

    def _on_tree_changed(self, event: str, record: PassRecord) -> None:
        if event == "selected":
            self.show_record(record.id)
        elif event == "removed" and record.id == self._shown_id and not self._resetting:
            self._shown_id = None
            if self.tree.current is not None and self.tree.current.id != record.id:
                self.show_record(self.tree.current.id)
        self._update_status_label()

    def _update_status_label(self) -> None:
        current = self.tree.current
        if current is None:
            self.status_label.setText("No image")
            return
        text = f"Input: {current.name}"
        shown = self.shown_record()
        if shown is not None and shown.id != current.id:
            text = f"Viewing: {shown.name} · {text}"
        if self.canvas.strength_map_image() is not None:
            text += " · strength map on (it replaces the global strength)"
        self.status_label.setText(text)

    def _on_mask_changed(self, *_args) -> None:
        self.panel.set_mask_present(self.canvas.mask_image() is not None)

    # -- generation -------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._busy

    def build_request(self, needs_image: bool = True) -> tuple[PassRequest, str, str | None]:
        """The request for the next pass, its model and config; raises UserError when unusable.

        ``needs_image`` False (batch): without an open image a placeholder stands in; the
        workflow replaces it with each input.
        """
        source = self.tree.current
        if source is None and needs_image:
            raise UserError("Open an image first (File › Open, drop a file or paste).")
        params = self.panel.request_params()
        model = params.pop("model")
        config = params.pop("model_config") or None
        params.pop("seed_locked")
        if not model:
            raise UserError("Choose a model first: a folder, a .safetensors file or a hub id.")
        params["seed"] = self.panel.seed_for_next_pass()
        if source is None:
            image, mask, strength_map = Image.new("RGB", (64, 64)), None, None
        else:
            image = source.image
            mask, strength_map = self.canvas.mask_image(), self.canvas.strength_map_image()
        request = PassRequest(image=image, mask=mask, strength_map=strength_map, **params)
        return request.validate(), model, config

    def generate(self) -> bool:
        """Start a pass on the worker; returns False (and shows why) when it cannot start."""
        if self._busy:
            return False
        try:
            request, model, config = self.build_request()
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.start_job(PassJob(request, model, config), f"Generating with seed {request.seed}…")
        return True

    def start_job(self, job: PassJob | WorkflowJob, message: str) -> None:
        """Submit a pass or workflow from the current input; the window is busy until it ends."""
        self.error_banner.hide()
        self._job_source_id = self.tree.current_id
        self._set_busy(True)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("Starting…")
        self.statusBar().showMessage(message)
        self.worker.submit(job)

    def cancel(self) -> None:
        """Stop the running pass within one step; the canvas returns to the previous view."""
        if self._busy:
            self.worker.cancel()
            self.progress_bar.setFormat("Cancelling…")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_busy_ui()

    def _update_busy_ui(self) -> None:
        self.generate_button.setEnabled(not self._busy)
        self.generate_action.setEnabled(not self._busy)
        for action in self.workflows.actions:
            action.setEnabled(not self._busy)
        self.cancel_button.setEnabled(self._busy)
        self.cancel_action.setEnabled(self._busy)

    def set_progress_text(self, text: str) -> None:
        self.progress_bar.setFormat(text)

    def finish_job(self, message: str) -> None:
        """End the busy state: the canvas shows the chosen record, the bar says ``message``."""
        self.canvas.show_preview(None)
        self._set_busy(False)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(message)

    def _on_worker_loading(self, message: str) -> None:
        self.progress_bar.setFormat(message)
        self.statusBar().showMessage(message)

    def _on_pass_started(self, event: PassStarted) -> None:
        self.progress_bar.setRange(0, max(1, event.effective_steps))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"step 0/{event.effective_steps}")

    def _on_preview(self, step: int, total: int, elapsed: float, image) -> None:
        if not self._busy:
            return
        if image is not None and self.workflows.previews_wanted():
            self.canvas.show_preview(image)
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (total - step) / rate if rate > 0 else 0.0
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(step)
        self.progress_bar.setFormat(
            f"{self.workflows.progress_prefix()}step {step}/{total} · {rate:.1f} it/s · "
            f"ETA {eta:.0f} s"
        )

    def _on_pass_finished(self, result: PassResult) -> None:
        # 1. Add the result under the record it started from (or the root if that was deleted).
        parent_id = self._job_source_id if self._job_source_id in self.tree else self.tree.root_id
        if parent_id is None:
            self.finish_job("Done (the image was closed meanwhile)")
            return
        record = self.add_result(parent_id, result)
        # 2. Applying it is one undo step (Ctrl+Z returns to the previous image).
        self.apply_record(record.id)
        self.finish_job(f"Done: {record.name}")
        note = f" — {result.note}" if result.note else ""
        self.statusBar().showMessage(f"{record.name} finished in {result.duration:.1f} s{note}")
        self.remember_model()

    def add_result(
        self, parent_id: str, result: PassResult, name: str | None = None, group: str | None = None
    ) -> PassRecord:
        """File a finished pass in the tree as a child of ``parent_id``."""
        params = dict(result.record)
        params.setdefault("strength", result.request.strength)
        params.setdefault("seed", result.seed)
        params.setdefault("effective_steps", result.effective_steps)
        params.setdefault("prompt", result.request.prompt)
        return self.tree.add(
            parent_id, result.image, params=params, name=name, duration=result.duration, group=group
        )

    def apply_record(self, record_id: str) -> None:
        """Make a record the current image and input, as one undo step."""
        self.undo_stack.push(ApplyPassCommand(self.tree, self.tree.current_id, record_id))

    def remember_model(self) -> None:
        """Remember the model that just worked (settings and the picker's recent list)."""
        self.settings.remember_model(self.state.model, self.state.model_config)
        self.panel.model_picker.set_recent(self.settings.recent_models)

    def _on_pass_cancelled(self) -> None:
        self.finish_job("Cancelled")
        self.statusBar().showMessage("Cancelled — nothing was added to the history.", 5000)

    def _on_pass_failed(self, message: str) -> None:
        self.finish_job("Failed")
        self.show_error(message)

    # -- errors, settings, lifetime ----------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Show a one-line error in the banner and the status bar; the app stays usable."""
        self.error_label.setText(message)
        self.error_banner.show()
        self.statusBar().showMessage(message, 15000)

    def _restore_settings(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))
        else:
            self.resize(1400, 900)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))
        if s.last_params:
            self.panel.set_params(s.last_params)
        self.panel.model_picker.set_recent(s.recent_models)
        self.state.update(model=s.last_model, model_config=s.last_model_config)
        self.strength_toolbar.set_total_steps(self.state.steps)

    def save_settings(self) -> None:
        s = self.settings
        s.window_geometry = bytes(self.saveGeometry().toBase64().data()).decode()
        s.window_state = bytes(self.saveState().toBase64().data()).decode()
        params = self.panel.request_params()
        s.last_model, s.last_model_config = params.pop("model"), params.pop("model_config")
        s.last_params = params
        s.save()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.save_settings()
        self.workflows.shutdown()
        self._shutdown()
        super().closeEvent(event)

    # -- drag and drop (delegated) ---------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        self.files.drag_enter(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        self.files.drop(event)
