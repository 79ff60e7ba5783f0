"""Runs the guide's workflows through the PassRunner and files every finished pass in the tree.

Multi-pass chains its passes (each the child of the one before); a sweep's and a variations
run's passes are children of the input, tied by a group id (the history shows them as a group,
the sweep also as a contact sheet); upscale, outpaint and fix faces add one pass; batch writes
files only.
Passes are added as they finish, so a cancelled workflow keeps everything it finished.

The controller opens no window: the Workflows menu (gui.window.workflow_menu) asks for the
settings, calls ``run_*`` and follows the signals below with the contact sheet and batch dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.errors import UserError
from core.events import PassResult
from core.imaging.faces import FaceBox
from core.requests import MAX_SEED, PassRequest
from gui.run.progress_text import format_eta
from gui.run.runner import PassRunner
from gui.run.worker import WorkflowJob
from gui.run.workflow_jobs import (
    FaceOptions,
    ModelChoice,
    batch_job,
    faces_job,
    multipass_job,
    outpaint_job,
    sweep_job,
    upscale_job,
    variations_job,
)

if TYPE_CHECKING:  # the workflow modules load torch: imported on the worker thread only
    from core.workflows.common import WorkflowProgress

JobFactory = Callable[[PassRequest, ModelChoice], WorkflowJob]
_NOUNS = {"multipass": "passes", "sweep": "sweep cells", "variations": "variations"}


@dataclass
class _Run:
    """The workflow being run: how its passes are filed and which it has produced so far."""

    kind: str
    group: str | None = None
    record_ids: list[str] = field(default_factory=list)


def _group_id() -> str:
    from core.workflows.common import new_group_id  # imported when used: keeps start-up light

    return new_group_id()


class WorkflowController(QObject):
    """Starts workflows (``run_*``) and files their passes; one at a time, like every job."""

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
        return self._run.kind if self._run else None

    # -- starting -------------------------------------------------------------------------------
    def run_multipass(self, strengths: Sequence[float], color_match: bool = True) -> bool:
        """Run a strength schedule from the current input; returns False when it cannot start."""
        return self._start(
            "multipass",
            lambda request, model: multipass_job(request, model, strengths, color_match),
            f"Multi-pass {' → '.join(f'{s:.2f}' for s in strengths)}…",
        )

    def run_sweep(self, strengths: Sequence[float], seeds: int = 1) -> bool:
        """Render every strength × seed (same seed across a row) and show the contact sheet."""
        group = _group_id()

        def make(request: PassRequest, model: ModelChoice) -> WorkflowJob:
            first = 0 if request.seed is None else request.seed  # the GUI always sets one
            seed_values = [(first + i) % (MAX_SEED + 1) for i in range(seeds)]
            self.sweep_laid_out.emit(list(strengths), seed_values)
            return sweep_job(request, model, strengths, seed_values, group)

        return self._start("sweep", make, f"Sweep of {len(strengths)} strengths…", group)

    def run_variations(self, count: int) -> bool:
        """Run ``count`` seeds at the current strength as one group."""
        group = _group_id()
        return self._start(
            "variations",
            lambda request, model: variations_job(request, model, count, group),
            f"{count} variations…",
            group,
        )

    def run_upscale(
        self, scale: float, strength: float, tile: int = 512, overlap: int = 64
    ) -> bool:
        """Upscale the current input and refine it in tiles; the result is one new pass."""
        return self._start(
            "upscale",
            lambda request, model: upscale_job(request, model, scale, strength, tile, overlap),
            f"Upscale {scale:g}× and refine at {strength:.2f}…",
        )

    def run_outpaint(self, sides: tuple[int, int, int, int], band: int, strength: float) -> bool:
        """Expand the current input by (left, right, top, bottom) px; one new pass."""
        return self._start(
            "outpaint",
            lambda request, model: outpaint_job(
                request.replace(mask=None, strength_map=None, strength=strength),
                model,
                sides,
                band,
            ),
            "Expand canvas {}…".format(" ".join(f"{s:+d}" for s in sides)),
        )

    def run_faces(
        self,
        boxes: Sequence[FaceBox],
        strength: float,
        prompt: str = "",
        padding: int | None = None,
    ) -> bool:
        """Refine each face box of the current input (one after another); one new pass."""
        if not boxes:
            self.runner.report_error("No face to fix: detect the faces again or draw a box.")
            return False
        options = FaceOptions(strength, prompt, padding, tuple(boxes))
        count = f"{len(boxes)} face{'' if len(boxes) == 1 else 's'}"
        return self._start(
            "faces",
            # The painted mask and strength map are replaced by each face's ellipse.
            lambda request, model: faces_job(
                request.replace(mask=None, strength_map=None), model, options
            ),
            f"Fixing {count} at {strength:.2f}…",
        )

    def run_batch(
        self,
        input_dir: str,
        output_dir: str,
        overwrite: bool = False,
        in_place: bool = False,
        fix_faces: bool = False,
    ) -> bool:
        """Run the current settings over a folder into another; files only, no history.
        ``fix_faces``: each picture's faces are refined before it is written."""
        return self._start(
            "batch",
            # The open picture's mask and strength map belong to it, not to the folder's images.
            lambda request, model: batch_job(
                request.replace(mask=None, strength_map=None),
                model,
                input_dir,
                output_dir,
                overwrite,
                in_place,
                fix_faces,
            ),
            f"Batch {input_dir} → {output_dir}…",
            needs_image=False,
        )

    def _start(
        self,
        kind: str,
        make_job: JobFactory,
        message: str,
        group: str | None = None,
        needs_image: bool = True,
    ) -> bool:
        runner = self.runner
        if runner.busy:
            runner.report_error("A pass is running; wait for it or cancel it first.")
            return False
        try:
            request, model = runner.build_request(needs_image=needs_image)
            job = make_job(request, model)
        except UserError as exc:
            runner.report_error(str(exc))
            self.rejected.emit(kind, str(exc))
            return False
        self._run = _Run(kind, group)
        # Upscale tiles, batch items and face crops are other pictures than the canvas's.
        runner.start_job(job, message, show_previews=kind not in ("upscale", "batch", "faces"))
        self.started.emit(kind)
        return True

    # -- worker reports -------------------------------------------------------------------------
    def _on_pass_done(self, index: int, result: PassResult) -> None:
        run = self._run
        if run is None or run.kind == "batch":
            return
        info = result.record.get("workflow", {})
        if run.kind == "multipass":
            source = run.record_ids[-1] if run.record_ids else self.runner.source_id
            name = f"Refine {index}/{info.get('of', '?')} · {result.request.strength:.2f}"
        elif run.kind == "sweep":
            source = self.runner.source_id
            name = f"Sweep {result.request.strength:.2f} · seed {result.seed}"
        else:
            source = self.runner.source_id
            name = f"Variation {index} · seed {result.seed}"
        parent = self.runner.parent_for(source)
        if parent is None:
            return
        record = self.runner.add_result(parent, result, name=name, group=run.group)
        run.record_ids.append(record.id)
        self.record_shown.emit(record.id)
        if run.kind == "sweep":
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
        self.progress.emit(self._run.kind, progress)

    def _on_workflow_finished(self, outcome: Any, cancelled: bool) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        self.finished.emit(run.kind, outcome, cancelled)
        runner = self.runner
        if run.kind == "batch":
            runner.finish_job(outcome.summary())
            runner.show_message(outcome.summary(), 15000)
            return
        if run.kind in ("upscale", "outpaint", "faces"):
            parent = runner.parent_for(runner.source_id)
            if parent is None:
                runner.finish_job("Done (the image was closed meanwhile)")
                return
            if outcome.skipped:  # no face: nothing changed, nothing is filed
                runner.finish_job(outcome.note or "Nothing changed")
                runner.show_message(outcome.note, 10000)
                return
            record = runner.add_result(parent, outcome, name=_single_pass_name(outcome))
            runner.apply_record(record.id)
            runner.finish_job(f"Done: {record.name}")
            runner.remember_model()
            return
        done = [r for r in run.record_ids if r in runner.tree]
        if run.kind == "multipass" and done:
            runner.apply_record(done[-1])
        text = f"{len(done)} {_NOUNS[run.kind]} finished"
        if cancelled:
            text = f"Cancelled — {text} and kept in the history"
        runner.finish_job(text)
        runner.show_message(text, 10000)
        if done:
            runner.remember_model()

    def _on_failed(self, message: str) -> None:
        run, self._run = self._run, None
        if run is not None:
            self.failed.emit(run.kind, message)

    def _on_cancelled(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            self.cancelled.emit(run.kind)


def _single_pass_name(outcome: PassResult) -> str:
    """The history name of an upscale's, an outpaint's or a fix-faces run's one pass."""
    kind = outcome.record.get("kind")
    if kind == "outpaint":
        return f"Expand {outcome.image.width}×{outcome.image.height}"
    if kind == "faces":
        count = len(outcome.record.get("faces", ()))
        return f"Fix {count} face{'' if count == 1 else 's'} · {outcome.request.strength:.2f}"
    return f"Upscale {outcome.record.get('workflow', {}).get('scale', ''):g}×"
