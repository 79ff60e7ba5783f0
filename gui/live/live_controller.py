"""Live mode's controller: runs a pass whenever the input changes, on a worker of its own.

The canvas's and the panel's edits reach ``input_changed``; the state machine
(gui.live.live_loop) debounces them and cancels and restarts passes; this class gives it a Qt
timer and a :class:`PassWorker` of its own that shares the app's engine (the engine runs one pass
at a time, so a live pass waits while a Generate runs, and a cancel reaches it while it waits).
While the window uses a remote worker (the model panel's Remote), live passes go there instead,
through a :class:`RemoteWorker` of its own aimed at the same URL and token: the same protocol
as Generate, with step previews and cancel on the worker; its signals never reach the runner.
Results are never filed here: the window's Apply does that (gui.live.live_wiring).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from core.errors import UserError
from core.events import PassResult
from gui.live.live_defaults import LiveDefaults, LiveSettings
from gui.live.live_loop import LiveLoop, LiveState
from gui.run.jobs import PassJob
from gui.run.remote_worker import RemoteWorker
from gui.run.runner import PassRunner
from gui.run.worker import PassWorker
from gui.run.worker_base import Worker


@dataclass(frozen=True)
class LiveFrame:
    """A finished live pass for the newest input: its result, the record it started from, the
    seconds from the edit to the result and the pass's own duration."""

    result: PassResult
    source_id: str | None
    latency: float

    @property
    def duration(self) -> float:
        return self.result.duration


class LiveController(QObject):
    """Debounced, cancel-restart live passes from the runner's current request."""

    frame_ready = Signal(object)  # LiveFrame
    preview = Signal(object, int, int)  # step preview (QImage made on the worker), step, total
    processing_changed = Signal(bool)
    outdated = Signal()  # the input changed: the shown frame is no longer its result
    settings_changed = Signal(str)  # the live step count and guidance, as a note
    error = Signal(str)

    def __init__(
        self, runner: PassRunner, worker: PassWorker | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self.worker = worker or PassWorker()
        self.defaults = LiveDefaults(model=runner.params.model)
        self.frame: LiveFrame | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer)
        self.remote: RemoteWorker | None = None  # made when a live pass first runs remotely
        self.loop = LiveLoop(self._start_pass, self._cancel, self._arm_timer)
        self._seed = 0  # the fixed seed while the panel's seed is not locked
        self._source_id: str | None = None  # the running pass's input record
        self._processing = False
        self._note = ""  # the settings note last shown
        self.settings_changed.connect(self._remember_note)
        self._listen_to(self.worker)

    def _remember_note(self, note: str) -> None:
        self._note = note

    def _listen_to(self, worker: Worker) -> None:
        worker.previews.ready.connect(self._on_preview)  # converted, newest only
        worker.finished.connect(self._on_finished)
        worker.cancelled.connect(self._on_cancelled)  # methods: queued to this thread
        worker.failed.connect(self._on_failed)

    # -- switching and input ----------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.loop.enabled

    def set_enabled(self, enabled: bool) -> None:
        """Live mode on (renders the current input after the debounce) or off (cancels)."""
        if enabled and not self.loop.enabled:
            self._seed = self._runner.params.seed
            self.settings_changed.emit(self.settings().note)
        self.loop.set_enabled(enabled)
        self._update_processing()

    def input_changed(self, *_args: object) -> None:
        """Any edit of the input (connect every edit signal here; arguments are ignored)."""
        if not self.loop.enabled:
            return
        if self.frame is not None:
            self.frame = None
            self.outdated.emit()
        self.loop.input_changed()
        self._update_processing()

    def model_changed(self, model: str) -> None:
        """Another model was chosen: its live defaults are learnt from its first pass."""
        self.defaults.forget(model)
        if self.loop.enabled:
            self.settings_changed.emit(self.settings().note)
        self.input_changed()

    def learn(self, record: dict) -> None:
        """Take the model's family and few-step kind from a pass record (any pass of it)."""
        before = self.settings()
        if self.defaults.learn(record) and self.settings() != before and self.loop.enabled:
            self.settings_changed.emit(self.settings().note)

    def settings(self) -> LiveSettings:
        params = self._runner.params
        masked = self._runner.document.mask is not None
        return self.defaults.settings(params.steps, params.model_family, masked)

    def seed(self) -> int:
        """The live passes' seed: the panel's while locked, else the one live mode began with."""
        params = self._runner.params
        return params.seed if params.seed_locked else self._seed

    def shutdown(self) -> None:
        self._timer.stop()
        self.loop.set_enabled(False)
        self.worker.shutdown()
        if self.remote is not None:
            self.remote.shutdown()

    # -- the loop's callbacks -------------------------------------------------------------------
    def _arm_timer(self, seconds: float) -> None:
        self._timer.start(max(0, round(seconds * 1000)))

    def _on_timer(self) -> None:
        self.loop.timer_elapsed()
        self._update_processing()

    def _start_pass(self) -> bool:
        try:
            request, spec = self._runner.build_request(seed=self.seed(), single_pass=True)
        except UserError as exc:
            self.error.emit(str(exc))
            return False
        settings = self.settings()
        if settings.note != self._note:  # a mask painted or cleared may change it
            self.settings_changed.emit(settings.note)
        cfg = request.cfg if settings.cfg is None else settings.cfg
        request = request.replace(steps=settings.steps, cfg=cfg)
        self._source_id = self._runner.tree.current_id
        self._worker_now().submit(PassJob(request, spec))
        return True

    def _worker_now(self) -> Worker:
        """Where the window's single passes run now: this computer, or the remote worker (the
        live one aimed at the runner's URL and token)."""
        remote = self._runner.remote_worker
        if remote is None:
            return self.worker
        if self.remote is None:
            self.remote = RemoteWorker()
            self._listen_to(self.remote)
        if self.remote.target != remote.target:
            self.remote.configure(*remote.target)
        return self.remote

    def _cancel(self) -> None:
        """Cancel the live pass, wherever it runs (a switch of worker may have come between)."""
        self.worker.cancel()
        if self.remote is not None:
            self.remote.cancel()

    # -- worker reports -------------------------------------------------------------------------
    def _on_preview(self, step: int, total: int, _elapsed: float, image: QImage | None) -> None:
        if image is not None and self.loop.state is LiveState.RUNNING:
            self.preview.emit(image, step, total)

    def _on_finished(self, result: PassResult) -> None:
        latency = self.loop.latency()
        if self._on_ended("finished"):
            self.learn(result.record)
            self.frame = LiveFrame(result, self._source_id, latency)
            self.frame_ready.emit(self.frame)

    def _on_cancelled(self) -> None:
        self._on_ended("cancelled")

    def _on_failed(self, message: str) -> None:
        self._on_ended("failed")
        self.error.emit(message)

    def _on_ended(self, outcome: str) -> bool:
        current = self.loop.pass_ended(outcome)
        self._update_processing()
        return current

    def _update_processing(self) -> None:
        processing = self.loop.busy
        if processing != self._processing:
            self._processing = processing
            self.processing_changed.emit(processing)
