"""The Workflows menu: its actions and settings dialogs, the sweep's contact sheet and the batch
dialog, around a :class:`gui.run.workflow_controller.WorkflowController` that runs them.

The dialogs, the contact sheet, the batch dialog and the Fix faces panel are imported when first
used (they load ``core.workflows``, and with it the engine module), so the window still shows
before torch loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from gui.canvas.face_boxes import FaceBoxOverlay
from gui.params.state import GenerationParams
from gui.qt_helpers import named
from gui.run.runner import NO_IMAGE
from gui.run.workflow_controller import WorkflowController
from gui.run.workflow_jobs import (
    Batch,
    FixFaces,
    Multipass,
    Outpaint,
    Sweep,
    Upscale,
    Variations,
)

if TYPE_CHECKING:
    from gui.history.contact_sheet import ContactSheetWindow
    from gui.window.batch_dialog import BatchDialog, BatchSettings
    from gui.window.faces_dialog import FaceRunSettings, FacesDialog


def settings_summary(params: GenerationParams) -> str:
    """One line of the settings a batch runs with: strength, steps, CFG, sampler, prompt, model."""
    prompt = " ".join(params.prompt.split())
    prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    return (
        f"strength {params.strength:.2f} · {params.steps} steps · CFG {params.cfg:g} · "
        f"{params.scheduler} · “{prompt}” · model {params.model or '(none)'}"
    )


class WorkflowMenu(QObject):
    """Owns the Workflows menu actions, their dialogs, the contact sheet and the batch dialog."""

    record_shown = Signal(str)  # a contact-sheet cell was clicked: show that record
    continue_requested = Signal(str)  # make that record the input of the next pass

    def __init__(
        self,
        workflows: WorkflowController,
        params: GenerationParams,
        parent: QWidget,
        face_boxes: FaceBoxOverlay | None = None,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self.workflows = workflows
        self.params = params
        self.face_boxes = face_boxes  # the canvas's face boxes (Fix faces)
        self.sheet: ContactSheetWindow | None = None  # the contact sheet of the last sweep
        self.batch_dialog: BatchDialog | None = None
        self.faces_dialog: FacesDialog | None = None
        self.actions = self._build_actions()
        workflows.started.connect(self._on_started)
        workflows.rejected.connect(self._on_rejected)
        workflows.sweep_laid_out.connect(self._show_sheet)
        workflows.sweep_cell_done.connect(self._on_sweep_cell_done)
        workflows.progress.connect(self._on_progress)
        workflows.finished.connect(self._on_finished)
        workflows.failed.connect(self._on_failed)
        workflows.cancelled.connect(self._on_cancelled)

    def _build_actions(self) -> list[QAction]:
        specs: tuple[tuple[str, str, str, Callable[[], Any]], ...] = (
            ("Multi-pass refine…", "Ctrl+Shift+M", "multipassAction", self.ask_multipass),
            ("Strength sweep…", "Ctrl+Shift+W", "sweepAction", self.ask_sweep),
            ("Variations…", "Ctrl+Shift+N", "variationsAction", self.ask_variations),
            ("Upscale and refine…", "Ctrl+Shift+U", "upscaleAction", self.ask_upscale),
            ("Batch folder…", "Ctrl+Shift+B", "batchAction", self.open_batch_dialog),
            ("Expand canvas…", "Ctrl+Alt+E", "expandAction", self.ask_expand),
            ("Fix faces…", "Ctrl+Shift+F", "fixFacesAction", self.open_faces_dialog),
        )
        actions = []
        for text, key, name, slot in specs:
            action = named(QAction(text, self._parent), name)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(slot)
            actions.append(action)
        return actions

    # -- dialogs --------------------------------------------------------------------------------
    def ask_multipass(self) -> None:
        from gui.window.workflow_dialogs import MultipassDialog

        settings = MultipassDialog.ask(self._parent, *self._steps_and_strength())
        if settings is not None:
            self.workflows.start(Multipass(tuple(settings.strengths), settings.color_match))

    def ask_sweep(self) -> None:
        from gui.window.workflow_dialogs import SweepDialog

        settings = SweepDialog.ask(self._parent, *self._steps_and_strength())
        if settings is not None:
            self.workflows.start(Sweep(tuple(settings.strengths), settings.seeds))

    def ask_variations(self) -> None:
        from gui.window.workflow_dialogs import VariationsDialog

        settings = VariationsDialog.ask(self._parent, *self._steps_and_strength())
        if settings is not None:
            self.workflows.start(Variations(settings.count))

    def ask_upscale(self) -> None:
        from gui.window.workflow_dialogs import UpscaleDialog

        current = self.workflows.runner.tree.current
        if current is None:
            self.workflows.runner.report_error(NO_IMAGE)
            return
        size = current.image.size
        settings = UpscaleDialog.ask(self._parent, *self._steps_and_strength(), size)
        if settings is not None:
            s = settings
            self.workflows.start(Upscale(s.scale, s.strength, s.tile, s.overlap))

    def ask_expand(self) -> None:
        from gui.window.expand_dialog import ExpandDialog

        current = self.workflows.runner.tree.current
        if current is None:
            self.workflows.runner.report_error(NO_IMAGE)
            return
        size = current.image.size
        settings = ExpandDialog.ask(self._parent, *self._steps_and_strength(), size)
        if settings is not None:
            self.workflows.start(Outpaint(settings.sides, settings.band, settings.strength))

    def open_faces_dialog(self) -> FacesDialog | None:
        """Show the (non-modal) Fix faces panel and detect the faces of the current input (when
        it opens); the boxes are drawn on the canvas. None when there is no picture."""
        from gui.window.faces_dialog import FacesDialog

        runner = self.workflows.runner
        current = runner.tree.current
        if current is None or self.face_boxes is None:
            runner.report_error(NO_IMAGE)
            return None
        if self.faces_dialog is None:

            def picture() -> Image.Image | None:
                return None if runner.tree.current is None else runner.tree.current.image

            self.faces_dialog = FacesDialog(self.face_boxes, picture, parent=self._parent)
            self.faces_dialog.run_requested.connect(self._on_faces_run_requested)
            runner.busy_changed.connect(self.faces_dialog.set_running)
            self.params.subscribe("steps", self.faces_dialog.set_steps)
        dialog = self.faces_dialog
        dialog.set_steps(int(self.params.steps))
        dialog.set_running(runner.busy)
        if not dialog.isVisible():  # already open: keep the edited boxes (Detect again redoes)
            dialog.show()
            dialog.detect(current.image)
        dialog.raise_()
        return dialog

    def open_batch_dialog(self) -> BatchDialog:
        """Show the (non-modal) batch dialog; its Start runs the batch through the controller."""
        from gui.window.batch_dialog import BatchDialog

        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(parent=self._parent)
            self.batch_dialog.start_requested.connect(self._on_batch_start_requested)
            self.batch_dialog.cancel_requested.connect(self.workflows.runner.cancel)
        self.batch_dialog.set_settings_summary(settings_summary(self.params))
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        return self.batch_dialog

    def shutdown(self) -> None:
        """Close the batch dialog and contact sheet without asking (the app is quitting)."""
        if self.batch_dialog is not None:
            self.batch_dialog.set_running(False)
            self.batch_dialog.close()
        if self.sheet is not None:
            self.sheet.close()
        if self.faces_dialog is not None:
            self.faces_dialog.close()

    def _steps_and_strength(self) -> tuple[int, float]:
        return int(self.params.steps), float(self.params.strength)

    # -- the controller's reports ---------------------------------------------------------------
    def _on_batch_start_requested(self, s: BatchSettings) -> None:
        self.workflows.start(
            Batch(s.input_dir, s.output_dir, s.overwrite, s.allow_in_place, s.fix_faces)
        )

    def _on_faces_run_requested(self, s: FaceRunSettings) -> None:
        self.workflows.start(FixFaces(tuple(s.boxes), s.strength, s.prompt, s.padding))

    def _show_sheet(self, strengths: list[float], seeds: list[int]) -> None:
        from gui.history.contact_sheet import ContactSheetWindow

        if self.sheet is None:
            self.sheet = ContactSheetWindow(int(self.params.steps), parent=self._parent)
            self.sheet.record_shown.connect(self.record_shown)
            self.sheet.continue_requested.connect(self.continue_requested)
        self.sheet.set_grid(strengths, seeds)
        self.sheet.show()
        self.sheet.raise_()

    def _on_sweep_cell_done(self, row: int, column: int, record_id: str, image: Any) -> None:
        if self.sheet is not None:
            self.sheet.set_cell(row, column, record_id, image)

    def _on_started(self, kind: str) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.set_running(True)

    def _on_rejected(self, kind: str, reason: str) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.on_failed(reason)
            self.batch_dialog.set_running(False)

    def _on_progress(self, kind: str, progress: Any) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.on_progress(progress)

    def _on_finished(self, kind: str, outcome: Any, cancelled: bool) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.on_finished(outcome)
            self.batch_dialog.set_running(False)
        if kind == Sweep.kind and cancelled and self.sheet is not None:
            self.sheet.mark_cancelled()

    def _on_failed(self, kind: str, message: str) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.on_failed(message)
            self.batch_dialog.set_running(False)
        if kind == Sweep.kind and self.sheet is not None:
            self.sheet.mark_cancelled()

    def _on_cancelled(self, kind: str) -> None:
        if kind == Batch.kind and self.batch_dialog is not None:
            self.batch_dialog.set_running(False)
