"""Candidates (staging): Generate makes N results at seeds base, base+1, … to pick from.

The runner owns Generate (gui.run.runner: ``candidate_count`` above 1 runs a candidates job on
its worker); this object stages what it reports, out of the history: the strip over the canvas
(gui.live.candidate_strip) flips between them, Accept files the chosen one as a pass (one undo
step), Discard drops them all.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.events import PassResult
from gui.run.runner import PassRunner


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
        runner.candidates_started.connect(self._on_started)
        runner.candidate_ready.connect(self._on_candidate)
        runner.candidates_ended.connect(self._on_ended)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def active(self) -> bool:
        """Candidates are being made or wait to be accepted or discarded."""
        return self._running or bool(self.results)

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
            self._runner.drop_candidates()
        had = bool(self.results)
        self.results, self.index = [], 0
        if had:
            self.shown.emit(None)
            self.changed.emit()

    # -- the runner's reports ------------------------------------------------------------------
    def _on_started(self, count: int) -> None:
        """Generate started ``count`` candidates (replacing any waiting ones)."""
        self.discard()
        self.expected, self._running = count, True
        self._source_id = self._runner.source_id
        self.changed.emit()

    def _on_candidate(self, result: PassResult) -> None:
        if self._running:
            self.results.append(result)
            self.index = len(self.results) - 1
            self.changed.emit()

    def _on_ended(self) -> None:
        if self._running:
            self._running = False
            self.finished.emit()
            self.select(0)


def _as_array(result: PassResult) -> np.ndarray:
    return np.asarray(result.image.convert("RGB"))
