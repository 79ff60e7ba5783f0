"""The model panel's Local / Remote worker choice, wired to the remote worker, the runner, the
model picker and the settings.

Remote: Generate runs on the worker (gui.run.remote_worker), the picker offers the worker's
models, and the local model is kept to return to; live mode runs there too (gui.live), while
workflows and candidates stay on this computer (the runner refuses them in one line). The mode,
URL and chosen worker model are settings; the token is not (the panel says so). Closing the
window stops the remote worker too.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject

from gui.params.model_picker import ModelPicker
from gui.params.worker_choice import REMOTE, TOKEN_ENV, WorkerChoicePanel, WorkerConnection
from gui.run.remote_worker import RemoteWorker
from gui.run.runner import PassRunner
from gui.window.settings import Settings


class RemoteWorkerWiring(QObject):
    """Owns the remote worker and the worker choice panel (placed in ``picker``)."""

    def __init__(
        self,
        runner: PassRunner,
        picker: ModelPicker,
        settings: Settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._picker = picker
        self._settings = settings
        self._state = runner.params
        self.connection: WorkerConnection | None = None
        self.worker = RemoteWorker()  # no parent: it outlives the window until its thread ends
        token = os.environ.get(TOKEN_ENV, "")
        self.panel = WorkerChoicePanel(settings.worker_mode, settings.worker_url, token)
        picker.add_worker_choice(self.panel)
        runner.listen_to(self.worker)

        self.panel.mode_changed.connect(self._on_mode_changed)
        self.panel.connect_requested.connect(self.connect_to)
        self.worker.connection_changed.connect(self._on_connection_changed)
        runner.busy_changed.connect(self._on_busy_changed)
        self._state.subscribe("model", self._on_model_changed)
        runner.worker.stopped.connect(self._shutdown)  # the window has closed
        if settings.worker_mode == REMOTE:
            self._use_remote(keep_local=False)

    @property
    def remote(self) -> bool:
        return self.panel.mode() == REMOTE

    def connect_to(self, url: str, token: str = "") -> None:
        """Use the worker at ``url`` from now on and ask it for its models."""
        self._settings.worker_url = url
        self.worker.configure(url, token)
        self.worker.check()

    # -- handlers -----------------------------------------------------------------------------
    def _on_mode_changed(self, mode: str) -> None:
        self._settings.worker_mode = mode
        if mode == REMOTE:
            self._use_remote(keep_local=True)
        else:
            self._use_local()

    def _use_remote(self, keep_local: bool) -> None:
        if keep_local:  # the local model to return to (restored settings already hold it)
            self._settings.worker_local_model = self._state.model
        self._runner.remote_worker = self.worker
        known = self.connection
        self._picker.set_worker_models(list(known.models) if known and known.connected else [])
        self._state.model = self._settings.worker_model
        if self.panel.url():
            self.connect_to(self.panel.url(), self.panel.token())

    def _use_local(self) -> None:
        self._runner.remote_worker = None
        self.worker.disconnect_worker()
        self.connection = None
        self.panel.set_connection(None)
        self._picker.set_worker_models(None)
        self._state.model = self._settings.worker_local_model

    def _on_connection_changed(self, connection: WorkerConnection) -> None:
        if not self.remote:  # a late answer after going back to Local
            return
        self.connection = connection
        self.panel.set_connection(connection)
        if not connection.connected:
            return
        self._picker.set_worker_models(list(connection.models))
        offered = [model_id for _name, model_id in connection.models]
        if offered and self._state.model not in offered:
            wanted = self._settings.worker_model
            self._state.model = wanted if wanted in offered else offered[0]

    def _on_model_changed(self, model: str) -> None:
        if self.remote:
            self._settings.worker_model = model

    def _on_busy_changed(self, busy: bool) -> None:
        self.panel.mode_combo.setEnabled(not busy)

    def _shutdown(self) -> None:
        self.worker.shutdown()  # it keeps itself alive until its thread has ended
