"""Loads the chosen model in the background before the first Generate.

A moment after the model (or how it runs: config, device, precision, memory mode, weights)
was last changed, and once at start-up with the remembered model, the local worker imports the
engine and loads the model on a background thread (``PassWorker.warm_up``), so the first
Generate starts denoising at once instead of spending seconds on imports and loading while the
user waits. With regional compilation on (CUDA), the warm-up then compiles at the open picture's
size (core.engine.compile_warm). Nothing happens while a job runs, with a remote worker, or when
turned off (the Generate menu's "Load the model in the background", kept in the settings;
``IMG2IMG_STUDIO_WARM_UP=0`` turns it off for scripts and tests). Its outcome goes to the status
bar only: a path being typed must not fill the error banner.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from core.errors import UserError
from core.model_spec import ModelSpec
from core.requests import PassRequest
from gui.run.runner import PassRunner

CANCELLED = "warm-up cancelled"  # core.models.warmup.CANCELLED (that module loads torch)
WARM_UP_DELAY_MS = 1500
WARM_UP_ENV = "IMG2IMG_STUDIO_WARM_UP"
# The fields that change what is loaded (prompt, seed… do not).
SPEC_FIELDS = ("model", "model_config", "device", "dtype", "memory", "quantize", "compile")


class ModelWarmUp(QObject):
    """Starts the runner's local worker warming up the chosen model (see the module text)."""

    def __init__(
        self,
        runner: PassRunner,
        enabled: bool = True,
        delay_ms: int = WARM_UP_DELAY_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._enabled = enabled and os.environ.get(WARM_UP_ENV, "1") != "0"
        self._started: ModelSpec | None = None  # the last spec a warm-up was started for
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.start_now)
        for name in SPEC_FIELDS:
            unsubscribe = runner.params.subscribe(name, lambda _value: self.schedule())
            self.destroyed.connect(lambda *_, off=unsubscribe: off())
        runner.worker.warmed.connect(self._on_warmed)
        self.schedule()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Turn warming up on (a warm-up follows shortly) or off (a running one is stopped)."""
        self._enabled = enabled
        if enabled:
            self.schedule()
        else:
            self._timer.stop()
            self._runner.worker.cancel_warm_up()
            self._started = None

    def schedule(self) -> None:
        """Warm up a moment from now (each call restarts the wait)."""
        if self._enabled:
            self._timer.start()

    def start_now(self) -> bool:
        """Warm up the chosen model now; False when there is nothing to do."""
        runner = self._runner
        spec = runner.params.model_spec()
        idle = not runner.busy and runner.remote_worker is None
        if not (self._enabled and idle and spec.reference) or spec == self._started:
            return False
        self._started = spec
        runner.worker.warm_up(spec, self._compile_request(spec))
        runner.show_message(f"Loading {_name(spec)} in the background…", 0)
        return True

    def _compile_request(self, spec: ModelSpec) -> PassRequest | None:
        """With compilation on, the pass Generate would file now (seed 0: none drawn), so the
        warm-up compiles at its size; None without a picture or with an unusable one."""
        if not spec.compile or self._runner.tree.current is None:
            return None
        try:
            return self._runner.build_request(seed=0, single_pass=True)[0]
        except UserError:
            return None

    def _on_warmed(self, outcome: str) -> None:
        if self._runner.busy or self._runner.worker.warming_up or outcome == CANCELLED:
            return  # a pass or a newer warm-up has the status bar
        if outcome.startswith("warmed up"):
            text = f"Model ready: {_name(self._started)}" if self._started else "Model ready"
            self._runner.show_message(text, 5000)
        else:
            self._started = None  # try again after the next change
            self._runner.show_message(f"Not loaded in the background: {outcome}", 8000)


def _name(spec: ModelSpec | None) -> str:
    return Path(spec.reference).name if spec is not None else ""
