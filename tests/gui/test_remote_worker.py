"""The window on a remote generation worker (a real worker on 127.0.0.1 with the tiny model):
connecting, a pass equal to the local one filed in the history, previews, cancel, a wrong
token, and the worker going away and coming back without touching the session."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from core.models import ModelSpec
from core.remote.offered import OfferedModels
from core.remote.server import make_app, start_server
from core.remote.token_file import write_token_file
from gui.live import live_defaults
from gui.live.live_loop import LiveState
from gui.params.worker_choice import LOCAL, REMOTE
from gui.run import remote_worker
from gui.run.remote_worker import WORKFLOWS_RUN_LOCALLY
from gui.run.worker import shared_engine
from gui.run.workflow_jobs import Variations
from gui.window.settings import Settings
from tests.gui.worker_helpers import PASS_TIMEOUT_MS, generate_and_wait, go_remote

TOKEN = "window-token"


class ServedWorker:
    """A worker on 127.0.0.1 served from a thread of its own; ``stop`` and ``start`` again keep
    its port (the window's URL stays valid)."""

    def __init__(self, model: str, token: str = TOKEN) -> None:
        self.model, self.token, self.port = model, token, 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _do(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> ServedWorker:
        async def serve() -> None:
            spec = ModelSpec(self.model, device="cpu")
            app = make_app(OfferedModels(self.model), spec, self.token, shared_engine())
            self.runner, self.port = await start_server(app, "127.0.0.1", self.port)

        self._do(serve())
        return self

    def stop(self) -> None:
        if self.runner is not None:
            self._do(self.runner.cleanup())
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def worker(tiny_model_dir):
    served = ServedWorker(str(tiny_model_dir)).start()
    yield served
    served.close()


def test_connecting_shows_the_state_and_the_workers_models(qtbot, main_window, worker):
    window = main_window
    assert window.worker_choice.panel.mode() == LOCAL and window.runner.remote_worker is None

    assert go_remote(qtbot, window, worker.url, TOKEN) == "connected · 1 model"
    assert window.worker_choice.panel.token_edit.echoMode() == QLineEdit.EchoMode.Password
    assert window.runner.remote_worker is window.worker_choice.worker
    offered = [reference for _text, reference in window.panel.model_picker.listed() if reference]
    assert offered == ["default"] and window.state.model == "default"  # an id, never a path
    # Workflows stay on this computer: refused in one line.
    assert not window.workflows.start(Variations(2))
    assert window.error_label.text() == WORKFLOWS_RUN_LOCALLY
    # Mode and URL are settings; the token is not.
    window.save_settings()
    saved = Settings.load()
    assert (saved.worker_mode, saved.worker_url) == (REMOTE, worker.url)
    assert TOKEN not in saved.path.read_text(encoding="utf-8")
    # Back to Local: this computer's models again.
    window.worker_choice.panel.mode_combo.setCurrentIndex(0)
    assert window.runner.remote_worker is None and window.state.model == worker.model


def test_a_remote_pass_is_filed_like_a_local_one_with_the_same_pixels(qtbot, main_window, worker):
    window, tree = main_window, main_window.tree
    generate_and_wait(qtbot, window)
    local = window.shown_record()
    assert local is not None and local.parent_id == tree.root_id
    assert tree.current_id == tree.root_id  # Generate keeps its input
    go_remote(qtbot, window, worker.url, TOKEN)
    previews = []
    window.runner.preview.connect(lambda image: image is not None and previews.append(image))
    generate_and_wait(qtbot, window)

    remote = window.shown_record()
    assert remote is not None and remote.id != local.id and remote.parent_id == tree.root_id
    assert len(tree.children(tree.root_id)) == 2
    assert np.array_equal(np.asarray(remote.image), np.asarray(local.image))
    assert remote.params["seed"] == local.params["seed"] == 1
    assert previews, "step previews reach the canvas"
    assert not window.error_banner.isVisible()


def test_cancel_stops_the_pass_on_the_worker(qtbot, main_window, worker):
    window = main_window
    go_remote(qtbot, window, worker.url, TOKEN)
    window.state.update(steps=400, strength=1.0)
    records = len(window.tree)
    remote = window.worker_choice.worker
    with qtbot.waitSignal(remote.preview, timeout=PASS_TIMEOUT_MS):
        assert window.generate()
    with qtbot.waitSignal(remote.cancelled, timeout=30_000):
        window.cancel()
    qtbot.waitUntil(lambda: not window.busy)
    assert len(window.tree) == records and not window.error_banner.isVisible()


def test_a_wrong_token_is_a_one_line_error(qtbot, main_window, worker):
    window = main_window
    state = go_remote(qtbot, window, worker.url, token="wrong")
    assert state == "not connected: the worker wants a valid token (--token)"
    window.state.model = worker.model
    records = len(window.tree)
    generate_and_wait(qtbot, window)
    message = window.error_label.text()
    assert window.error_banner.isVisible() and "valid token" in message and "\n" not in message
    assert len(window.tree) == records


def test_a_local_worker_needs_no_typed_token_its_token_file_is_read(qtbot, main_window, worker):
    window = main_window
    assert go_remote(qtbot, window, worker.url, token="").startswith("not connected")
    write_token_file(worker.port, TOKEN)  # what `serve` writes for this user on this machine
    assert go_remote(qtbot, window, worker.url, token="") == "connected · 1 model"
    assert window.worker_choice.panel.token() == ""  # never shown, never saved


def test_a_lost_worker_is_reported_retried_and_the_session_kept(
    qtbot, main_window, tiny_model_dir, monkeypatch
):
    monkeypatch.setattr(remote_worker, "RECONNECT_DELAYS_S", (0.2,))
    window, tree = main_window, main_window.tree
    served = ServedWorker(str(tiny_model_dir)).start()
    try:
        go_remote(qtbot, window, served.url, TOKEN)
        generate_and_wait(qtbot, window)
        kept = [record.id for record in tree.records()]
        current = tree.current_id

        served.stop()  # the worker goes away between passes
        generate_and_wait(qtbot, window)
        message = window.error_label.text()
        assert window.error_banner.isVisible() and served.url in message and "\n" not in message
        label = window.worker_choice.panel.state_label
        qtbot.waitUntil(lambda: label.text().startswith("unreachable: "), timeout=10_000)
        assert [record.id for record in tree.records()] == kept and tree.current_id == current

        served.start()  # it comes back: found again, and the next pass runs there
        qtbot.waitUntil(lambda: label.text() == "connected · 1 model", timeout=30_000)
        generate_and_wait(qtbot, window)
        assert len(tree) == len(kept) + 1 and window.shown_record().parent_id == current
    finally:
        served.close()


def _live_frame(qtbot, live):
    qtbot.waitUntil(
        lambda: live.controller.frame is not None and not live.controller.loop.busy,
        timeout=PASS_TIMEOUT_MS,
    )
    return live.controller.frame


def test_live_mode_runs_on_the_remote_worker_with_the_same_pixels(
    qtbot, main_window, worker, monkeypatch
):
    window, live = main_window, main_window.live
    controller = live.controller
    live.set_live(True)
    local = _live_frame(qtbot, live)  # Local: this computer's live worker
    live.set_live(False)

    go_remote(qtbot, window, worker.url, TOKEN)
    ran_here: list[object] = []
    controller.worker.submit = ran_here.append  # type: ignore[method-assign]
    generate_worker = window.worker_choice.worker
    generate_worker.submit = ran_here.append  # type: ignore[method-assign]
    previews: list[tuple[int, int]] = []
    controller.preview.connect(lambda _image, step, total: previews.append((step, total)))
    live.set_live(True)
    remote = _live_frame(qtbot, live)

    assert ran_here == []  # neither the local live worker nor Generate's connection ran it
    assert controller.remote is not None and controller.remote.target == (worker.url, TOKEN)
    assert remote is not local and previews and previews[-1] == (2, 2)
    assert np.array_equal(np.asarray(remote.result.image), np.asarray(local.result.image))
    assert remote.result.seed == local.result.seed and remote.result.request.steps == 4

    # An edit while the worker renders cancels there and the newest input comes next.
    monkeypatch.setattr(live_defaults, "ORDINARY_LIVE_STEPS", 400)
    window.state.update(steps=400, prompt="first")  # a long pass: the next edit lands in it
    qtbot.waitUntil(lambda: controller.loop.state is LiveState.RUNNING, timeout=30_000)
    with qtbot.waitSignal(controller.remote.cancelled, timeout=30_000):
        window.state.update(steps=2, prompt="second")
    frame = _live_frame(qtbot, live)
    assert frame.result.request.prompt == "second" and frame.result.request.steps == 2

    # Apply files it like a local live frame; live results are never Generate results.
    records = len(window.tree)
    qtbot.mouseClick(live.view.apply_button, Qt.MouseButton.LeftButton)
    assert len(window.tree) == records + 1
    assert np.array_equal(np.asarray(window.tree.current.image), np.asarray(frame.result.image))
    live.set_live(False)
