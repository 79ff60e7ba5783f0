"""Runs jobs for the window: builds the pass request, owns the worker, files results in the tree.

Every job starts with ``start_job`` and ends with ``finish_job``: ``generate()`` (Generate: one
pass, or candidates, which gui.live.candidates stages from this runner's signals), the workflow
controller (gui.run.workflow_controller) for the rest. The runner touches no widget; the
window shows what its signals say: the busy state, the progress bar, status-bar messages, errors
and step previews.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from core.conditioning.regions import Region
from core.errors import UserError
from core.events import PassResult, PassStarted
from core.history import PassRecord, PassTree
from core.imaging import load_mask
from core.model_spec import ModelSpec
from core.requests import PassRequest
from gui.document.document import Document
from gui.params.state import GenerationParams
from gui.params.work_size import WorkSizeKey
from gui.run.commands import ApplyPassCommand
from gui.run.jobs import Job, PassJob, WorkflowJob
from gui.run.preview_blend import PreviewBlend
from gui.run.progress_text import step_text
from gui.run.remote_worker import WORKFLOWS_RUN_LOCALLY, RemoteWorker
from gui.run.worker import PassWorker
from gui.run.worker_base import Worker
from gui.run.workflow_jobs import GenerateFixingFaces, MakeCandidates

NO_IMAGE = "Open an image first (File › Open, drop a file or paste)."
NO_MODEL = "Choose a model first: a folder, a .safetensors file or a hub id."
REMOTE_FIX_FACES = "Fix faces after each pass runs on the local worker: turn it off or go Local."
MAX_CANDIDATES = 8


def _as_layer(image: Image.Image | None) -> Image.Image | None:
    """A request's mask or strength map as filed with its pass: mode "L" (alpha or luminance)."""
    return None if image is None else load_mask(image, image.size)


@dataclass
class _CandidateRun:
    """A running candidates job: how many it has handed out, and whether it still hands out
    (not after ``drop_candidates``)."""

    kept: int = 0
    keeping: bool = True


class PassRunner(QObject):
    """Runs one job at a time on a :class:`PassWorker` and files single passes in ``tree``."""

    busy_changed = Signal(bool)
    progress_changed = Signal(int, int, str)  # value, maximum, bar text
    progress_text_changed = Signal(str)  # new bar text; value and range stay
    message = Signal(str, int)  # status-bar text, timeout in ms (0: until replaced)
    error = Signal(str)  # a one-line error to show
    preview = Signal(object)  # a step preview (QImage, made on the worker), or None: the picture
    model_worked = Signal()  # a job finished with results: remember its model
    work_size_seen = Signal(object, object)  # WorkSizeKey, (w, h) a single pass really works at
    # A Generate result was filed (record id): the window shows it; the input stays the same.
    result_added = Signal(str)
    # Candidates (``candidate_count`` above 1): Generate makes that many, kept apart from the
    # history (gui.live.candidates stages them): started (count), each one, then the end.
    candidates_started = Signal(int)
    candidate_ready = Signal(object)  # core.events.PassResult
    candidates_ended = Signal()  # done, cancelled or failed (the busy state has ended)

    def __init__(
        self,
        document: Document,
        undo_stack: QUndoStack,
        preview_size: Callable[[], tuple[int, int] | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        """``preview_size``: the picture's size on screen in device pixels (the canvas's); step
        previews are scaled to it on the worker, so the GUI thread draws them 1:1."""
        super().__init__(parent)
        self.document = document  # the next pass's input, masks, regions and parameters
        self.tree: PassTree = document.tree
        self.params: GenerationParams = document.params
        self.undo_stack = undo_stack
        self.worker = PassWorker()
        # Single passes run here when set (Remote worker mode: gui.window.remote_wiring).
        self.remote_worker: RemoteWorker | None = None
        self.preview_size = preview_size
        self._ran_remotely = False
        self._busy = False
        self._source_id: str | None = None
        self._label = ""  # a workflow's current unit, prefixed to the step text
        self._show_previews = True
        self._work_key: WorkSizeKey | None = None  # the running single pass's picture and model
        self._generating = False  # a Generate runs as a workflow job (fix faces after the pass)
        self.candidate_count = 1  # Generate makes this many candidates when above 1
        self._candidates: _CandidateRun | None = None  # the running candidates job
        self.listen_to(self.worker)
        self.worker.workflow_finished.connect(self._on_generate_workflow_finished)
        self.worker.pass_done.connect(self._on_candidate_done)

    def listen_to(self, worker: Worker) -> None:
        """Report the passes ``worker`` runs (the local worker; the remote one when set)."""
        worker.loading.connect(self._on_loading)
        worker.started.connect(self._on_pass_started)
        worker.preview.connect(self._on_preview)
        worker.previews.ready.connect(self._on_preview_image)  # coalesced, converted
        worker.finished.connect(self._on_pass_finished)
        worker.cancelled.connect(self._on_cancelled)
        worker.failed.connect(self._on_failed)

    # -- state ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def source_id(self) -> str | None:
        """The record that was the input when the running (or last) job was submitted."""
        return self._source_id

    def parent_for(self, record_id: str | None) -> str | None:
        """Where a result from ``record_id`` goes: that record, or the root if it was deleted."""
        return record_id if record_id is not None and record_id in self.tree else self.tree.root_id

    # -- starting -------------------------------------------------------------------------------
    def build_request(
        self, needs_image: bool = True, seed: int | None = None, single_pass: bool = False
    ) -> tuple[PassRequest, ModelSpec]:
        """The request for the next pass and its model; raises UserError when unusable.

        ``needs_image`` False (batch): without an open image a placeholder stands in; the
        workflow replaces it with each input. ``seed`` (live mode): this seed, none drawn.
        With a remote worker only single passes (Generate, live mode: ``single_pass``) run
        there: workflows and candidates are refused here with one line.
        """
        if self.remote_worker is not None and not single_pass:
            raise UserError(WORKFLOWS_RUN_LOCALLY)
        return self._request(needs_image, seed)

    def _request(
        self, needs_image: bool = True, seed: int | None = None
    ) -> tuple[PassRequest, ModelSpec]:
        source = self.tree.current
        if source is None and needs_image:
            raise UserError(NO_IMAGE)
        spec = self.params.model_spec()
        if not spec.reference:
            raise UserError(NO_MODEL)
        if source is None:
            request = self.params.pass_request(Image.new("RGB", (64, 64)), seed)
        else:
            document = self.document
            request = self.params.pass_request(
                source.image,
                seed,
                mask=document.mask,
                strength_map=document.strength_map,
                regions=document.pass_regions(),
            )
        return request.validate(), spec

    def generate(self) -> bool:
        """Generate (the window's button, Ctrl+Return): one pass, or ``candidate_count``
        candidates when above 1. Returns False (and reports why) when it cannot start."""
        if self._busy:
            return False
        if self.candidate_count > 1:
            return self._generate_candidates(max(1, min(MAX_CANDIDATES, self.candidate_count)))
        try:
            request, spec = self._request()
            if self.remote_worker is not None and self.params.fix_faces:
                raise UserError(REMOTE_FIX_FACES)
        except UserError as exc:
            self.report_error(str(exc))
            return False
        job: Job
        if self.params.fix_faces:  # "Fix faces after each pass": one result, the faces fixed
            job = WorkflowJob(request, spec, GenerateFixingFaces())
        else:
            job = PassJob(request, spec)
        self.start_job(job, f"Generating with seed {request.seed}…")
        self._work_key = WorkSizeKey(request.image.size, spec.reference, request.work_size)
        self._generating = isinstance(job, WorkflowJob)
        return True

    def _generate_candidates(self, count: int) -> bool:
        """Candidates at seeds seed, seed+1, …: each reported by ``candidate_ready``, none filed."""
        try:
            request, spec = self.build_request()
        except UserError as exc:
            self.report_error(str(exc))
            return False
        self.start_job(WorkflowJob(request, spec, MakeCandidates(count)), f"{count} candidates…")
        self._candidates = _CandidateRun()
        self.candidates_started.emit(count)
        return True

    def drop_candidates(self) -> None:
        """Stop the running candidates job; what it still finishes is not reported."""
        if self._candidates is not None:
            self._candidates.keeping = False
            self._candidates.kept = 0
            self.cancel()

    def start_job(self, job: Job, message: str, show_previews: bool = True) -> None:
        """Submit a job from the current input; busy until it ends. ``show_previews`` False keeps
        step previews off the canvas (upscale tiles and batch items are other pictures)."""
        self._source_id = self.tree.current_id
        self._label = ""
        self._show_previews = show_previews
        self._work_key = None
        self._generating = False
        self._candidates = None
        self._set_busy(True)
        # A bar with a range, not Qt's busy indicator: that one shows no text at all.
        self.progress_changed.emit(0, 1, "Starting…")
        self.message.emit(message, 0)
        remote = self.remote_worker if isinstance(job, PassJob) else None
        self._ran_remotely = remote is not None
        worker = remote or self.worker
        worker.previews.display_size = self.preview_size() if show_previews else None
        # Inpaint previews over the picture: the unmasked area stays as the result will have it.
        request = job.request if isinstance(job, PassJob) else None
        worker.previews.blend = PreviewBlend.for_request(request) if request else None
        worker.submit(job)

    def cancel(self) -> None:
        """Stop the running job within one step; the canvas returns to the previous view."""
        if self._busy:
            self.worker.cancel()
            if self.remote_worker is not None:
                self.remote_worker.cancel()
            self.progress_text_changed.emit("Cancelling…")

    # -- while running --------------------------------------------------------------------------
    def set_progress_label(self, label: str) -> None:
        """A workflow's current unit ("Pass 2 (2/3, ETA 0:12)"): shown now, then before steps."""
        self._label = label
        self.progress_text_changed.emit(label)

    def report_error(self, message: str) -> None:
        self.error.emit(message)

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        self.message.emit(text, timeout_ms)

    def remember_model(self) -> None:
        """Say that the model just worked (the window remembers it in the settings)."""
        self.model_worked.emit()

    # -- ending ---------------------------------------------------------------------------------
    def add_result(
        self, parent_id: str, result: PassResult, name: str | None = None, group: str | None = None
    ) -> PassRecord:
        """File a finished pass in the tree as a child of ``parent_id``, with the mask and strength
        map its request used."""
        params = dict(result.record)
        params.setdefault("strength", result.request.strength)
        params.setdefault("seed", result.seed)
        params.setdefault("effective_steps", result.effective_steps)
        params.setdefault("prompt", result.request.prompt)
        request = result.request
        return self.tree.add(
            parent_id,
            result.image,
            params=params,
            name=name,
            duration=result.duration,
            group=group,
            mask=_as_layer(request.mask),
            strength_map=_as_layer(request.strength_map),
            regions=tuple(
                Region(load_mask(r.mask, r.mask.size), r.prompt, r.negative)
                for r in request.regions
            ),
            control_images=tuple(result.control_images),
        )

    def file_result(
        self, source_id: str | None, result: PassResult, name: str, make_input: bool = True
    ) -> PassRecord | None:
        """File a kept live result or candidate as a pass from ``source_id`` (None when the image
        was closed); ``make_input`` applies it too, as one undo step."""
        parent_id = self.parent_for(source_id)
        if parent_id is None:
            return None
        record = self.add_result(parent_id, result, name=name)
        if make_input:
            self.apply_record(record.id)
        return record

    def apply_record(self, record_id: str) -> None:
        """Make a record the current image and input, as one undo step ("Use … as input")."""
        if record_id in self.tree and record_id != self.tree.current_id:
            self.undo_stack.push(ApplyPassCommand(self.tree, self.tree.current_id, record_id))

    def finish_job(self, message: str) -> None:
        """End the busy state: the canvas shows the chosen record, the bar says ``message``."""
        self.preview.emit(None)
        self._label = ""
        self._show_previews = True
        self._work_key = None
        self._set_busy(False)
        self.progress_changed.emit(0, 100, message)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy_changed.emit(busy)

    # -- worker reports -------------------------------------------------------------------------
    def _on_loading(self, message: str) -> None:
        """The loading phase (the engine's ModelLoading events): its text on the bar."""
        prefix = f"{self._label} · " if self._label else ""
        self.progress_changed.emit(0, 1, prefix + message)
        self.message.emit(message, 0)

    def _on_pass_started(self, event: PassStarted) -> None:
        if self._work_key is not None:  # the pass's own size (not a face crop's after it)
            self.work_size_seen.emit(self._work_key, (event.width, event.height))
            self._work_key = None
        steps = event.effective_steps
        self.progress_changed.emit(0, max(1, steps), f"step 0/{steps}")

    def _on_preview(self, step: int, total: int, elapsed: float, image: np.ndarray | None) -> None:
        if not self._busy:
            return
        prefix = f"{self._label} · " if self._label else ""
        self.progress_changed.emit(step, max(1, total), prefix + step_text(step, total, elapsed))

    def _on_preview_image(self, _step: int, _total: int, _elapsed: float, image: object) -> None:
        if self._busy and image is not None and self._show_previews:
            self.preview.emit(image)

    def _on_pass_finished(self, result: PassResult) -> None:
        # 1. Add the result under the record it started from (or the root if that was deleted).
        parent_id = self.parent_for(self._source_id)
        if parent_id is None:
            self.finish_job("Done (the image was closed meanwhile)")
            return
        record = self.add_result(parent_id, result)
        # 2. Show it; the input stays, so Generate again makes a sibling ("Continue from here"
        # makes a result the input).
        self.finish_job(f"Done: {record.name}")
        self.result_added.emit(record.id)
        note = f" — {result.note}" if result.note else ""
        self.show_message(f"{record.name} finished in {result.duration:.1f} s{note}")
        if not self._ran_remotely:  # a worker's model is remembered by the remote wiring
            self.remember_model()

    def _on_generate_workflow_finished(self, outcome: object, cancelled: bool) -> None:
        if self._generating and isinstance(outcome, PassResult):
            self._on_pass_finished(outcome)
        elif self._candidates is not None:
            count = self._candidates.kept
            text = f"{count} candidate{'' if count == 1 else 's'}: ← → to flip, Accept keeps one"
            self.finish_job("Cancelled" if cancelled and not count else text)
            self._end_candidates()

    def _on_candidate_done(self, _index: int, result: PassResult) -> None:
        run = self._candidates
        if run is not None and run.keeping:
            run.kept += 1
            self.candidate_ready.emit(result)

    def _end_candidates(self) -> None:
        if self._candidates is not None:
            self._candidates = None
            self.candidates_ended.emit()

    def _on_cancelled(self) -> None:
        self.finish_job("Cancelled")
        self.show_message("Cancelled — nothing was added to the history.", 5000)
        self._end_candidates()

    def _on_failed(self, message: str) -> None:
        self.finish_job("Failed")
        self.report_error(message)
        self._end_candidates()
