"""Runs the guide's workflows through the PassRunner and files every finished pass in the tree.

Multi-pass chains its passes (each the child of the one before); a sweep's and a variations
run's passes are children of the input, tied by a group id (the history shows them as a group,
the sweep also as a contact sheet); upscale, outpaint and fix faces add one pass; batch writes
files only.
Passes are added as they finish, so a cancelled workflow keeps everything it finished.

The controller opens no window and knows no workflow by name: the Workflows menu
(gui.window.workflow_menu) asks for the settings, calls ``start`` with a workflow
(gui.run.workflow_jobs) and follows the signals below with the contact sheet and batch dialog;
the workflow's class says how its passes are filed and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.errors import UserError
from core.events import PassResult
from gui.run.jobs import Filing, Workflow, WorkflowJob
from gui.run.progress_text import format_eta
from gui.run.runner import PassRunner

if TYPE_CHECKING:  # the workflow modules load torch: imported on the worker thread only
    from core.workflows.common import WorkflowProgress


@dataclass
class _Run:
    """The workflow being run and the passes it has filed so far."""

    workflow: Workflow
    record_ids: list[str] = field(default_factory=list)


class WorkflowController(QObject):
    """Starts workflows (``start``) and files their passes; one at a time, like every job."""

    started = Signal(str)  # kind: the workflow was submitted
    rejected = Signal(str, str)  # kind, reason: it could not start (the runner reported why)
    record_shown = Signal(str)  # a pass was filed: show it
    sweep_laid_out = Signal(object, object)  # strengths, seeds of the sweep about to run
    sweep_cell_done = Signal(int, int, str, object)  # row, column, record id, PIL image
    progress = Signal(str, object)  # kind, core.workflows.common.WorkflowProgress
    finished = Signal(str, object, bool)  # kind, outcome, cancelled (before it is filed)
    failed = Signal(str, str)  # kind, message: the workflow stopped with an error
    cancelled = Signal(str)  # kind: the workflow stopped before it had an outcome

    def __init__(self, runner: PassRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._run: _Run | None = None
        worker = runner.worker
        worker.pass_done.connect(self._on_pass_done)
        worker.progress.connect(self._on_progress)
        worker.workflow_finished.connect(self._on_workflow_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    @property
    def active(self) -> str | None:
        """The kind of the running workflow ("multipass", "sweep", …) or None."""
        return self._run.workflow.kind if self._run else None

    # -- starting -------------------------------------------------------------------------------
    def start(self, workflow: Workflow) -> bool:
        """Run ``workflow`` (gui.run.workflow_jobs) from the current input and settings; returns
        False (and the runner reports why) when it cannot start."""
        runner = self.runner
        if runner.busy:
            runner.report_error("A pass is running; wait for it or cancel it first.")
            return False
        try:
            workflow.check()
            request, spec = runner.build_request(needs_image=workflow.needs_image)
            request = workflow.prepare(request)
        except UserError as exc:
            runner.report_error(str(exc))
            self.rejected.emit(workflow.kind, str(exc))
            return False
        grid = workflow.grid(request)
        if grid is not None:
            self.sweep_laid_out.emit(*grid)
        self._run = _Run(workflow)
        job = WorkflowJob(request, spec, workflow)
        runner.start_job(job, workflow.message(), show_previews=workflow.shows_previews)
        self.started.emit(workflow.kind)
        return True

    # -- worker reports -------------------------------------------------------------------------
    def _on_pass_done(self, index: int, result: PassResult) -> None:
        run = self._run
        if run is None or run.workflow.filing is not Filing.EACH_PASS:
            return
        workflow = run.workflow
        previous = run.record_ids[-1] if workflow.chains and run.record_ids else None
        parent = self.runner.parent_for(previous or self.runner.source_id)
        if parent is None:
            return
        name = workflow.pass_name(index, result)
        record = self.runner.add_result(parent, result, name=name, group=workflow.group_id())
        run.record_ids.append(record.id)
        self.record_shown.emit(record.id)
        if workflow.grid(result.request) is not None:  # a contact sheet's cell
            info = result.record.get("workflow", {})
            row, column = info.get("row", 0), info.get("column", 0)
            self.sweep_cell_done.emit(row, column, record.id, record.image)

    def _on_progress(self, progress: WorkflowProgress) -> None:
        if self._run is None:
            return
        if progress.status == "running":
            eta = format_eta(progress.eta)
            eta_part = f", ETA {eta}" if eta else ""
            self.runner.set_progress_label(
                f"{progress.label} ({progress.index}/{progress.total}{eta_part})"
            )
        self.progress.emit(self._run.workflow.kind, progress)

    def _on_workflow_finished(self, outcome: Any, cancelled: bool) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        workflow = run.workflow
        self.finished.emit(workflow.kind, outcome, cancelled)
        runner = self.runner
        if workflow.filing is Filing.FILES_ONLY:
            runner.finish_job(outcome.summary())
            runner.show_message(outcome.summary(), 15000)
            return
        if workflow.filing is Filing.ONE_RESULT:
            parent = runner.parent_for(runner.source_id)
            if parent is None:
                runner.finish_job("Done (the image was closed meanwhile)")
                return
            if outcome.skipped:  # no face: nothing changed, nothing is filed
                runner.finish_job(outcome.note or "Nothing changed")
                runner.show_message(outcome.note, 10000)
                return
            record = runner.add_result(parent, outcome, name=workflow.result_name(outcome))
            runner.apply_record(record.id)
            runner.finish_job(f"Done: {record.name}")
            runner.remember_model()
            return
        done = [r for r in run.record_ids if r in runner.tree]
        if workflow.chains and done:
            runner.apply_record(done[-1])
        text = f"{len(done)} {workflow.noun} finished"
        if cancelled:
            text = f"Cancelled — {text} and kept in the history"
        runner.finish_job(text)
        runner.show_message(text, 10000)
        if done:
            runner.remember_model()

    def _on_failed(self, message: str) -> None:
        run, self._run = self._run, None
        if run is not None:
            self.failed.emit(run.workflow.kind, message)

    def _on_cancelled(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            self.cancelled.emit(run.workflow.kind)
