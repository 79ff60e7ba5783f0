"""Candidates (staging): Generate makes N results at seeds base, base+1, … to pick from.

They run as a "candidates" workflow job (core.workflows.variations through
gui.run.workflow_jobs) on the runner's worker and stay out of the history: the strip over the
canvas (gui.live.candidate_strip) flips between them, Accept files the chosen one as a pass (one
undo step), Discard drops them all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.errors import UserError
from core.events import PassResult
from gui.run.runner import PassRunner
from gui.run.workflow_jobs import candidates_job

MAX_CANDIDATES = 8


class Candidates(QObject):
    """The candidates of the last Generate: ``results``, the chosen ``index``."""

    changed = Signal()  # a candidate arrived, the choice moved, or they were dropped
    shown = Signal(object)  # the chosen candidate's H×W×3 array for the canvas, or None
    finished = Signal()  # the job ended (every candidate that finished is in ``results``)

    def __init__(self, runner: PassRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.results: list[PassResult] = []
        self.index = 0
        self.expected = 0  # how many were asked for
        self._source_id: str | None = None
        self._running = False
        self._keeping = False  # False after Discard: what the running job still finishes is dropped
        worker = runner.worker
        worker.pass_done.connect(self._on_pass_done)
        worker.workflow_finished.connect(self._on_workflow_finished)
        worker.cancelled.connect(self._on_stopped)
        worker.failed.connect(self._on_stopped)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def active(self) -> bool:
        """Candidates are being made or wait to be accepted or discarded."""
        return self._running or bool(self.results)

    def generate(self, count: int) -> bool:
        """Start ``count`` candidates from the current input (replacing any waiting ones);
        returns False (and the runner reports why) when they cannot start."""
        runner = self._runner
        if runner.busy:
            return False
        try:
            request, model = runner.build_request()
        except UserError as exc:
            runner.report_error(str(exc))
            return False
        self.discard()
        count = max(1, min(MAX_CANDIDATES, count))
        self.expected, self._running, self._keeping = count, True, True
        runner.start_job(candidates_job(request, model, count), f"{count} candidates…")
        self._source_id = runner.source_id
        self.changed.emit()
        return True

    # -- choosing -------------------------------------------------------------------------------
    def select(self, index: int) -> None:
        if self.results:
            self.index = max(0, min(len(self.results) - 1, index))
            self.changed.emit()
            self.shown.emit(_as_array(self.results[self.index]))

    def step(self, delta: int) -> None:
        """Flip to the next (+1) or previous (-1) candidate, wrapping around."""
        if self.results:
            self.select((self.index + delta) % len(self.results))

    def accept(self) -> str | None:
        """File the chosen candidate as a pass and make it the input (one undo step); the others
        are dropped. Returns the new record's id (None when there was nothing to accept)."""
        if not self.results or self._running:
            return None
        result = self.results[self.index]
        name = f"Candidate {self.index + 1}/{len(self.results)} · seed {result.seed}"
        record = self._runner.file_result(self._source_id, result, name)
        self.discard()
        if record is not None:
            self._runner.show_message(f"Kept {name}", 5000)
        return None if record is None else record.id

    def discard(self) -> None:
        """Drop every candidate (a running job is cancelled; what it finishes is dropped too)."""
        if self._running:
            self._keeping = False
            self._runner.cancel()
        had = bool(self.results)
        self.results, self.index = [], 0
        if had:
            self.shown.emit(None)
            self.changed.emit()

    # -- worker reports -------------------------------------------------------------------------
    def _on_pass_done(self, _index: int, result: PassResult) -> None:
        if not (self._running and self._keeping):
            return
        self.results.append(result)
        self.index = len(self.results) - 1
        self.changed.emit()

    def _on_workflow_finished(self, _outcome: Any, cancelled: bool) -> None:
        if not self._running:
            return
        self._running = False
        count = len(self.results)
        text = f"{count} candidate{'' if count == 1 else 's'}: ← → to flip, Accept keeps one"
        self._runner.finish_job("Cancelled" if cancelled and not count else text)
        self.finished.emit()
        self.select(0)

    def _on_stopped(self, *_args: Any) -> None:
        if self._running:  # the runner ends the busy state and reports the error itself
            self._running = False
            self.finished.emit()
            self.select(0)


def _as_array(result: PassResult) -> np.ndarray:
    return np.asarray(result.image.convert("RGB"))
