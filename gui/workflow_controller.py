"""Runs the guide's workflows from the window and files every finished pass in the pass tree.

Multi-pass chains its passes (each the child of the one before); a sweep's and a variations
run's passes are children of the input, tied by a group id (the history shows them as a group,
the sweep also as a contact sheet); upscale adds one pass; batch writes files from its dialog.
Passes are added as they finish, so a cancelled workflow keeps everything it finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from core.errors import UserError
from core.events import PassResult
from core.requests import MAX_SEED
from gui.workflow_jobs import (
    ModelChoice,
    batch_job,
    multipass_job,
    sweep_job,
    upscale_job,
    variations_job,
)

if TYPE_CHECKING:
    from gui.main_window import MainWindow


@dataclass
class _Run:
    """The workflow being run: where its passes go and what it has produced so far."""

    kind: str
    source_id: str
    group: str | None = None
    strengths: list[float] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    label: str = ""


def _group_id() -> str:
    from core.workflows.common import new_group_id  # imported when used: keeps start-up light

    return new_group_id()


class WorkflowController(QObject):
    """Owns the Workflows menu actions, their dialogs, the contact sheet and the batch dialog."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.sheet = None  # gui.contact_sheet.ContactSheetWindow of the last sweep
        self.batch_dialog = None
        self._run: _Run | None = None
        worker = window.worker
        worker.pass_done.connect(self._on_pass_done)
        worker.progress.connect(self._on_progress)
        worker.workflow_finished.connect(self._on_workflow_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        self.actions = self._build_actions()

    def _build_actions(self) -> list[QAction]:
        specs = (
            ("Multi-pass refine…", "Ctrl+Shift+M", "multipassAction", self.ask_multipass),
            ("Strength sweep…", "Ctrl+Shift+W", "sweepAction", self.ask_sweep),
            ("Variations…", "Ctrl+Shift+N", "variationsAction", self.ask_variations),
            ("Upscale and refine…", "Ctrl+Shift+U", "upscaleAction", self.ask_upscale),
            ("Batch folder…", "Ctrl+Shift+B", "batchAction", self.open_batch_dialog),
        )
        actions = []
        for text, key, name, slot in specs:
            action = QAction(text, self.window)
            action.setObjectName(name)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(slot)
            actions.append(action)
        return actions

    # -- queries used by the window -----------------------------------------------------------
    @property
    def active(self) -> str | None:
        """The kind of the running workflow ("multipass", "sweep", …) or None."""
        return self._run.kind if self._run else None

    def previews_wanted(self) -> bool:
        """Upscale tiles and batch items are other pictures: their previews stay off the canvas."""
        return self._run is None or self._run.kind not in ("upscale", "batch")

    def progress_prefix(self) -> str:
        return f"{self._run.label} · " if self._run and self._run.label else ""

    # -- dialogs --------------------------------------------------------------------------------
    def ask_multipass(self) -> None:
        from gui.workflow_dialogs import MultipassDialog

        settings = MultipassDialog.ask(self.window, self._steps(), self._strength())
        if settings is not None:
            self.run_multipass(settings.strengths, settings.color_match)

    def ask_sweep(self) -> None:
        from gui.workflow_dialogs import SweepDialog

        settings = SweepDialog.ask(self.window, self._steps(), self._strength())
        if settings is not None:
            self.run_sweep(settings.strengths, settings.seeds)

    def ask_variations(self) -> None:
        from gui.workflow_dialogs import VariationsDialog

        settings = VariationsDialog.ask(self.window, self._steps(), self._strength())
        if settings is not None:
            self.run_variations(settings.count)

    def ask_upscale(self) -> None:
        from gui.workflow_dialogs import UpscaleDialog

        current = self.window.tree.current
        if current is None:
            self.window.show_error("Open an image first (File › Open, drop a file or paste).")
            return
        settings = UpscaleDialog.ask(
            self.window, self._steps(), self._strength(), current.image.size
        )
        if settings is not None:
            self.run_upscale(settings.scale, settings.strength, settings.tile, settings.overlap)

    def open_batch_dialog(self):
        """Show the (non-modal) batch dialog; it starts the batch through ``run_batch``."""
        from gui.batch_dialog import BatchDialog

        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self.window)
            self.batch_dialog.start_requested.connect(
                lambda s: self.run_batch(s.input_dir, s.output_dir, s.overwrite, s.allow_in_place)
            )
            self.batch_dialog.cancel_requested.connect(self.window.cancel)
        self.batch_dialog.set_settings_summary(self._settings_summary())
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        return self.batch_dialog

    # -- starting -------------------------------------------------------------------------------
    def run_multipass(self, strengths: list[float], color_match: bool = True) -> bool:
        """Run a strength schedule from the current input; returns False when it cannot start."""
        return self._start(
            "multipass",
            lambda request, model: multipass_job(request, model, strengths, color_match),
            f"Multi-pass {' → '.join(f'{s:.2f}' for s in strengths)}…",
            strengths=list(strengths),
        )

    def run_sweep(self, strengths: list[float], seeds: int = 1) -> bool:
        """Render every strength × seed (same seed across a row) and show the contact sheet."""
        group = _group_id()

        def make(request, model):
            seed_values = [(request.seed + i) % (MAX_SEED + 1) for i in range(seeds)]
            self._show_sheet(list(strengths), seed_values)
            return sweep_job(request, model, strengths, seed_values, group)

        return self._start(
            "sweep", make, f"Sweep of {len(strengths)} strengths…", group, list(strengths)
        )

    def run_variations(self, count: int) -> bool:
        """Run ``count`` seeds at the current strength as one group."""
        group = _group_id()
        return self._start(
            "variations",
            lambda request, model: variations_job(request, model, count, group),
            f"{count} variations…",
            group,
        )

    def run_upscale(self, scale: float, strength: float, tile: int = 512, overlap: int = 64):
        """Upscale the current input and refine it in tiles; the result is one new pass."""
        return self._start(
            "upscale",
            lambda request, model: upscale_job(request, model, scale, strength, tile, overlap),
            f"Upscale {scale:g}× and refine at {strength:.2f}…",
        )

    def run_batch(
        self, input_dir: str, output_dir: str, overwrite: bool = False, in_place: bool = False
    ) -> bool:
        """Run the current settings over a folder into another; files only, no history."""
        ok = self._start(
            "batch",
            # The open picture's mask and strength map belong to it, not to the folder's images.
            lambda request, model: batch_job(
                request.replace(mask=None, strength_map=None),
                model,
                input_dir,
                output_dir,
                overwrite,
                in_place,
            ),
            f"Batch {input_dir} → {output_dir}…",
            needs_image=False,
        )
        if self.batch_dialog is not None:
            self.batch_dialog.set_running(ok)
        return ok

    def _start(self, kind, make_job, message, group=None, strengths=None, needs_image=True):
        window = self.window
        if window.busy:
            window.show_error("A pass is running; wait for it or cancel it first.")
            return False
        try:
            request, model, config = window.build_request(needs_image=needs_image)
            job = make_job(request, ModelChoice(model, config))
        except UserError as exc:
            window.show_error(str(exc))
            if self.batch_dialog is not None and kind == "batch":
                self.batch_dialog.on_failed(str(exc))
            return False
        source = window.tree.current_id or ""
        self._run = _Run(kind, source, group, list(strengths or []))
        window.start_job(job, message)
        return True

    # -- worker reports -------------------------------------------------------------------------
    def _on_pass_done(self, index: int, result: PassResult) -> None:
        run = self._run
        if run is None or run.kind == "batch":
            return
        tree = self.window.tree
        info = result.record.get("workflow", {})
        if run.kind == "multipass":
            parent = run.record_ids[-1] if run.record_ids else run.source_id
            name = f"Refine {index}/{info.get('of', '?')} · {result.request.strength:.2f}"
        elif run.kind == "sweep":
            parent = run.source_id
            name = f"Sweep {result.request.strength:.2f} · seed {result.seed}"
        else:
            parent = run.source_id
            name = f"Variation {index} · seed {result.seed}"
        if parent not in tree:
            parent = tree.root_id
        if parent is None:
            return
        record = self.window.add_result(parent, result, name=name, group=run.group)
        run.record_ids.append(record.id)
        self.window.show_record(record.id)
        if run.kind == "sweep" and self.sheet is not None:
            self.sheet.set_cell(info.get("row", 0), info.get("column", 0), record.id, record.image)

    def _on_progress(self, progress) -> None:
        if self._run is None:
            return
        if progress.status == "running":
            eta = f", ETA {progress.eta:.0f} s" if progress.eta is not None else ""
            self._run.label = f"{progress.label} ({progress.index}/{progress.total}{eta})"
            self.window.set_progress_text(self._run.label)
        if self._run.kind == "batch" and self.batch_dialog is not None:
            self.batch_dialog.on_progress(progress)

    def _on_workflow_finished(self, outcome: Any, cancelled: bool) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        window = self.window
        if run.kind == "batch":
            if self.batch_dialog is not None:
                self.batch_dialog.on_finished(outcome)
                self.batch_dialog.set_running(False)
            window.finish_job(outcome.summary())
            window.statusBar().showMessage(outcome.summary(), 15000)
            return
        if run.kind == "upscale":
            parent = run.source_id if run.source_id in window.tree else window.tree.root_id
            scale = outcome.record.get("workflow", {}).get("scale", "")
            record = window.add_result(parent, outcome, name=f"Upscale {scale:g}×")
            window.apply_record(record.id)
            window.finish_job(f"Done: {record.name}")
            window.remember_model()
            return
        done = [r for r in run.record_ids if r in window.tree]
        if run.kind == "multipass" and done:
            window.apply_record(done[-1])
        if run.kind == "sweep" and cancelled and self.sheet is not None:
            self.sheet.mark_cancelled()
        noun = {"multipass": "passes", "sweep": "sweep cells", "variations": "variations"}
        text = f"{len(done)} {noun[run.kind]} finished"
        if cancelled:
            text = f"Cancelled — {text} and kept in the history"
        window.finish_job(text)
        window.statusBar().showMessage(text, 10000)
        if done:
            window.remember_model()

    def _on_failed(self, message: str) -> None:
        run, self._run = self._run, None
        if run is not None and run.kind == "batch" and self.batch_dialog is not None:
            self.batch_dialog.on_failed(message)
            self.batch_dialog.set_running(False)
        if run is not None and run.kind == "sweep" and self.sheet is not None:
            self.sheet.mark_cancelled()

    def _on_cancelled(self) -> None:
        run, self._run = self._run, None
        if run is not None and run.kind == "batch" and self.batch_dialog is not None:
            self.batch_dialog.set_running(False)

    def shutdown(self) -> None:
        """Close the batch dialog and contact sheet without asking (the app is quitting)."""
        if self.batch_dialog is not None:
            self.batch_dialog.set_running(False)
            self.batch_dialog.close()
        if self.sheet is not None:
            self.sheet.close()

    # -- helpers ----------------------------------------------------------------------------------
    def _show_sheet(self, strengths: list[float], seeds: list[int]) -> None:
        from gui.contact_sheet import ContactSheetWindow

        if self.sheet is None:
            self.sheet = ContactSheetWindow(self._steps(), parent=self.window)
            self.sheet.record_shown.connect(self.window.show_record)
            self.sheet.continue_requested.connect(self.window.continue_from)
        self.sheet.set_grid(strengths, seeds)
        self.sheet.show()
        self.sheet.raise_()

    def _steps(self) -> int:
        return int(self.window.state.steps)

    def _strength(self) -> float:
        return float(self.window.state.strength)

    def _settings_summary(self) -> str:
        s = self.window.state
        prompt = " ".join(s.prompt.split())
        prompt = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        return (
            f"strength {s.strength:.2f} · {s.steps} steps · CFG {s.cfg:g} · {s.scheduler} · "
            f"“{prompt}” · model {s.model or '(none)'}"
        )
