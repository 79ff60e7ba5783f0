"""The main window: canvas in the centre, generation and history docks, toolbars, menus.

It lays out the widgets and wires them together. The session is the document's
(gui.document.Document: pass tree, parameters, regions, masks, the record on screen, the project):
widgets bind to it, the PassRunner (gui.run.runner) runs its passes and files their results in
its tree, autosave and projects save it. Generation itself lives in ``core``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from core.history import PassRecord, TreeEvent
from gui.canvas.canvas import Canvas
from gui.canvas.empty_hint import EmptyHint
from gui.canvas.toolbars import MaskToolBar, StrengthToolBar
from gui.document.document import Document
from gui.history.history_panel import HistoryPanel
from gui.live.live_wiring import LiveArea, LiveMode
from gui.params.control_panel import ControlPanel
from gui.params.generation_panel import GenerationPanel
from gui.params.memory_mode import MemoryModeBox
from gui.params.regions_panel import RegionsPanel
from gui.qt_helpers import named, plain
from gui.run.runner import PassRunner
from gui.run.warm_up import ModelWarmUp
from gui.run.workflow_controller import WorkflowController
from gui.window.autosave import Autosaver
from gui.window.canvas_binding import CanvasBinding
from gui.window.error_banner import ErrorBanner
from gui.window.file_actions import FileActions
from gui.window.generate_area import GenerateArea
from gui.window.help_menu import HelpMenu
from gui.window.layout import DockLayout
from gui.window.model_manager import ModelManagerOpener
from gui.window.project_actions import ProjectActions
from gui.window.recovery import RecoveryOffer
from gui.window.remote_wiring import RemoteWorkerWiring
from gui.window.settings import Settings
from gui.window.typing_guard import TypingGuard
from gui.window.window_actions import WindowActions, fill_menu_bar
from gui.window.window_feedback import BannerCauses, ToolFlash, starts_from_text
from gui.window.workflow_menu import WorkflowMenu


class MainWindow(QMainWindow):
    """The application window. ``generate()`` starts a pass; the runner's signals report back.

    Closing never waits for a running job: it is cancelled, and ``shut_down`` follows once the
    worker thread has finished (the app quits then).
    """

    shut_down = Signal()

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = settings or Settings.load()
        self.undo_stack = QUndoStack(self)
        self.document = Document()  # the session: everything below binds to it
        self.tree = self.document.tree
        self.state = self.document.params
        self._closed = False

        # 1. Central area: an error banner above the canvas.
        self.canvas = Canvas(self.undo_stack)
        self.canvas_binding = CanvasBinding(self.document, self.canvas, self.undo_stack)
        self.empty_hint = EmptyHint(self.canvas)  # "Open or drop a picture…" until one is open
        self.regions_panel = RegionsPanel(self.document)  # regional prompts (the document's)
        self.error_banner = ErrorBanner()
        self.error_label = self.error_banner.label
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.error_banner)
        self.live_area = LiveArea(self.canvas)  # the live result beside the canvas (gui.live)
        column.addWidget(self.live_area, 1)
        self.setCentralWidget(central)

        # 2. Running: passes and workflows on the worker thread, results into the tree.
        preview_size = self.canvas.scene_display_size
        self.runner = PassRunner(self.document, self.undo_stack, preview_size, self)
        self.worker = self.runner.worker
        self.workflows = WorkflowController(self.runner, self)
        self.live = LiveMode(self.live_area, self.runner, self)  # live mode and candidates
        # The chosen model loads in the background before the first Generate (gui.run.warm_up).
        self.warm_up = ModelWarmUp(self.runner, self.settings.warm_up, parent=self)

        # 3. Docks: generation (with Generate / Cancel / progress) and history.
        self.panel = GenerationPanel(self.state)
        self.history = HistoryPanel(self.tree)
        self.docks = DockLayout(self)  # dockable panels, the default layout, Reset layout
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.memory_box = MemoryModeBox(self.state, self.tree)  # the mode chosen and in use
        live_buttons = (self.live.candidate_count, self.live.button)
        area = GenerateArea(self.panel, live_buttons, self.memory_box)
        self.generate_button, self.cancel_button = area.generate_button, area.cancel_button
        self.progress_bar, self.starts_from_label = area.progress_bar, area.starts_from_label
        self.generate_button.clicked.connect(self.runner.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.docks.add("Generate", "generationDock", area, right)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.docks.add("History", "historyDock", self.history, left)
        regions_dock = self.docks.add("Regions", "regionsDock", self.regions_panel, left)
        conditioning = self.state.conditioning  # LoRAs, ControlNet, IP-Adapter (Control panel)
        overlay = self.canvas.control_overlay
        self.control_panel = ControlPanel(conditioning, self.undo_stack, self.tree, overlay)
        control_dock = self.docks.add("Control", "controlDock", self.control_panel, left)
        self.tabifyDockWidget(regions_dock, control_dock)

        # 4. Toolbars, menus, status bar.
        self.mask_toolbar = MaskToolBar(self.canvas, self)
        self.addToolBar(self.mask_toolbar)
        self.strength_toolbar = StrengthToolBar(self.canvas, self)
        self.addToolBarBreak()  # its own row: neither toolbar overflows into » at 1400 px
        self.addToolBar(self.strength_toolbar)
        self.files = FileActions(self, self.tree, self.settings, self.shown_record)
        # Autosave and crash recovery (gui.window.autosave, .recovery); project files, the title
        # and the unsaved marker (gui.window.project_actions): all save the document.
        self.autosaver = Autosaver(self.document, self.undo_stack, parent=self)
        busy = lambda: self.busy  # noqa: E731
        self.project = ProjectActions(
            self.document, self, self.settings, self.files, self.autosaver, busy
        )
        self.recovery = RecoveryOffer(self, self.autosaver, self.project, busy)
        self.workflow_menu = WorkflowMenu(self.workflows, self.state, self, self.canvas.face_boxes)
        self.models = ModelManagerOpener(self.state, self.panel.model_picker, self)  # Models…
        self.canvas.viewport().installEventFilter(self.files)
        self._build_menus()
        self.help = HelpMenu(self, self.tree, self.state)  # Keyboard shortcuts, About
        self.status_label = plain(named(QLabel(), "inputLabel"))
        self.statusBar().addPermanentWidget(self.status_label)
        self.statusBar().showMessage("Open an image (Ctrl+O, drop or paste) and choose a model.")
        self.tool_flash = ToolFlash(self.mask_toolbar.tool_actions, self.statusBar())
        # B, E, R, H never fire while typing (gui.window.typing_guard).
        self.typing_guard = TypingGuard(self.mask_toolbar.tool_actions.values(), self)
        self.banner_causes = BannerCauses(self.error_banner)

        # 5. Wiring.
        self.tree.subscribe(self._on_tree_changed)
        self.document.subscribe("shown_id", lambda _id: self._on_shown())
        self.document.subscribe("mask", lambda mask: self.panel.set_mask_present(mask is not None))
        self.document.subscribe("strength_map", lambda _map: self._update_status_label())
        self.document.replaced.subscribe(lambda _doc: self.error_banner.hide())
        self.autosaver.failed.connect(self.show_error)
        for helper in (self.project, self.recovery):
            helper.error.connect(self.show_error)
            helper.message.connect(self._show_message)
        self.history.record_shown.connect(self.show_record)
        self.history.continue_requested.connect(self.continue_from)
        self.history.edit_reference_requested.connect(self.control_panel.edit_references.add_record)
        self.workflows.record_shown.connect(self.show_record)
        self.workflow_menu.record_shown.connect(self.show_record)
        self.workflow_menu.continue_requested.connect(self.continue_from)
        self.canvas.tool_changed.connect(self.tool_flash.flash)
        self.state.subscribe("model", self.banner_causes.model_chosen)
        self.mask_toolbar.error.connect(self.show_error)
        self.panel.problem_changed.connect(self._update_generate_enabled)
        self.runner.work_size_seen.connect(self.panel.remember_work_size)
        self.state.subscribe("steps", self.strength_toolbar.set_total_steps)
        self.files.image_opened.connect(self._on_image_opened)
        self.files.restore_requested.connect(self.panel.set_params)
        self.files.project_dropped.connect(self.open_project)
        self.files.error.connect(self.show_error)
        self.files.message.connect(self._show_message)
        self.runner.busy_changed.connect(self._on_busy_changed)
        self.runner.progress_changed.connect(self._show_progress)
        self.runner.progress_text_changed.connect(self.progress_bar.setFormat)
        self.runner.message.connect(self._show_message)
        self.runner.error.connect(self.show_error)
        self.runner.preview.connect(self.canvas.show_preview)
        self.runner.model_worked.connect(self._remember_model)
        self.runner.result_added.connect(self.show_record)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_about_to_quit)
        self.worker.stopped.connect(self.shut_down)
        self.shut_down.connect(self.autosaver.finish)

        # 6. Restore settings (the layout as built is the default: View › Reset layout).
        self.docks.mark_default()
        self._restore_settings()
        self.worker_choice = RemoteWorkerWiring(self.runner, self.panel.model_picker, self.settings)
        self._on_busy_changed(False)
        self.panel.set_mask_present(self.document.mask is not None)
        self._update_status_label()

    # -- building ---------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        actions = self.window_actions = WindowActions(  # kept: its slot must stay alive
            self, self.undo_stack, self.runner.generate, self.cancel, self.warm_up, self.settings
        )
        self.undo_action, self.redo_action = actions.undo, actions.redo
        self.generate_action, self.cancel_action = actions.generate, actions.cancel
        self.warm_up_action = actions.warm_up
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        fit, actual = QAction("Fit to window", self), QAction("Actual size (100%)", self)
        fit.triggered.connect(self.canvas.fit)
        actual.triggered.connect(self.canvas.zoom_100)
        run = [actions.generate, actions.cancel, self.live.action, actions.warm_up]
        menus = fill_menu_bar(
            self.menuBar(),
            [
                ("&File", [*self.files.actions(), None, quit_action]),
                ("&Edit", [actions.undo, actions.redo, None, self.mask_toolbar.load_mask_action]),
                ("&Generate", [*run, self.models.action]),
                ("&Workflows", self.workflow_menu.actions),
                ("&View", [fit, actual]),
            ],
        )
        self.project.install_menu(menus["&File"])  # beside the picture's entries
        self.docks.fill_view_menu(menus["&View"])  # show/hide each panel and toolbar, Reset
        for action in self.workflow_menu.actions:
            if action.objectName() == "expandAction":  # also a canvas tool, next to the brushes
                self.mask_toolbar.addAction(action)

    # -- records and view -----------------------------------------------------------------
    def show_record(self, record_id: str) -> None:
        """Show a record in the canvas (the mask stays) and select its history card; the next
        pass's input is unchanged."""
        if record_id == self.document.shown_id:
            self._on_shown()  # shown already: its card is selected again
        else:
            self.document.show(record_id)  # the canvas binding and _on_shown follow

    def _on_shown(self) -> None:
        shown = self.document.shown_id
        if shown is not None and shown in self.tree:
            self.history.show_card(shown)  # the card shown and the canvas always agree
        self._update_status_label()

    def continue_from(self, record_id: str) -> None:
        """Make a record the input of the next pass (new passes become its children): one undo
        step, "Use … as input"."""
        self.runner.apply_record(record_id)

    def shown_record(self) -> PassRecord | None:
        return self.document.shown_record()

    def set_root_image(
        self, image: Image.Image, name: str = "Original", document: str = ""
    ) -> None:
        """Start a new session from ``image``: new tree, empty mask, empty undo history;
        ``document`` names the picture in the title ("" keeps the name)."""
        self.document.start(image, name, document)

    def _on_image_opened(self, image: Image.Image, name: str, document: str) -> None:
        if self.project.confirm_discard():  # unsaved work: Save / Discard / Cancel
            self.set_root_image(image, name, document)

    def save_project(self, path: str | Path) -> bool:
        """Save the session as a project file (.i2i); errors go to the banner."""
        return self.project.save(path)

    def open_project(self, path: str | Path) -> bool:
        """Open a project file in place of the session (asks first about unsaved work)."""
        return self.project.open(path)

    def _on_tree_changed(self, _event: TreeEvent) -> None:
        self.empty_hint.set_empty(self.tree.root is None)
        self._update_status_label()

    def _update_status_label(self) -> None:
        current = self.tree.current
        self.panel.set_picture_size(None if current is None else current.image.size)
        self.starts_from_label.setText(starts_from_text(current))
        has_map = self.document.strength_map is not None
        self.panel.set_strength_map_present(has_map)  # the panel says the slider is not used
        for toolbar in (self.mask_toolbar, self.strength_toolbar):
            toolbar.setEnabled(current is not None)  # nothing to paint on without a picture
        if current is None:
            self.status_label.setText("No image")
            return
        text = f"Next pass starts from: {current.name}"
        shown = self.shown_record()
        if shown is not None and shown.id != current.id:
            text = f"Viewing: {shown.name} · {text}"
        if has_map:
            text += " · Region strength map on (it replaces the strength slider)"
        self.status_label.setText(text)

    # -- generation (gui.run.runner) ------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    def generate(self) -> bool:
        """Start a pass on the worker; returns False (and shows why) when it cannot start."""
        return self.runner.generate()  # one pass, or candidates (the runner's candidate_count)

    def cancel(self) -> None:
        """Stop the running pass within one step; the canvas returns to the previous view."""
        self.runner.cancel()

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.error_banner.hide()
        self._update_generate_enabled()
        for action in self.workflow_menu.actions:
            action.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.cancel_action.setEnabled(busy)

    def _update_generate_enabled(self) -> None:
        """Generate needs an idle worker and valid parameters (the panel shows what is wrong)."""
        enabled = not self.busy and self.panel.problem() is None
        self.generate_button.setEnabled(enabled)
        self.generate_action.setEnabled(enabled)

    def _show_progress(self, value: int, maximum: int, text: str) -> None:
        self.progress_bar.setRange(0, maximum)
        self.progress_bar.setValue(value)
        self.progress_bar.setFormat(text)

    def _remember_model(self) -> None:
        """Remember the model that just worked (settings and the picker's recent list)."""
        self.settings.remember_model(self.state.model, self.state.model_config)
        self.panel.model_picker.set_recent(self.settings.recent_models)

    # -- messages, settings, lifetime ----------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Show a one-line error in the banner and the status bar; the app stays usable."""
        self.error_banner.show_error(message)
        self.statusBar().showMessage(message, 15000)

    def _show_message(self, text: str, timeout_ms: int) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _restore_settings(self) -> None:
        s = self.settings
        self.docks.restore(s)  # size, position, panels
        # The model first: the steps and CFG it brings give way to the saved ones.
        self.state.update(model=s.last_model, model_config=s.last_model_config)
        if s.last_params:
            self.panel.set_params(s.last_params)
        self.panel.model_picker.set_recent(s.recent_models)
        self.strength_toolbar.set_total_steps(self.state.steps)

    def save_settings(self) -> None:
        s = self.settings
        self.docks.store(s)
        s.last_model, s.last_model_config = self.state.model, self.state.model_config
        s.last_params = self.state.saved_values()  # plain values: no pictures in settings
        s.save()

    def _shutdown(self) -> None:
        """Cancel the running job and let the worker thread finish on its own (no waiting)."""
        if self._closed:
            return
        self._closed = True
        self.live.shutdown()
        self.worker.shutdown()

    def _on_about_to_quit(self) -> None:
        # The app quits now (not after shut_down): give a running job a last chance to stop.
        self._shutdown()
        self.worker.shutdown(wait_ms=10000)
        self.worker.wait_warm_up(3.0)  # cancelled: it stops after the load phase in progress

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self._closed and not self.project.confirm_discard():
            event.ignore()
            return
        self.save_settings()
        self.workflow_menu.shutdown()
        self._shutdown()
        self.autosaver.close_window(self.busy)
        super().closeEvent(event)

    # -- drag and drop (gui.window.file_actions) ----------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        self.files.drag_enter(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.files.drop(event)
