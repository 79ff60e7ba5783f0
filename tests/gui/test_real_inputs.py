"""Real inputs in the window: work size, device and precision, masks from files, closing while a
job runs. A fake engine stands in for the model (no torch pass runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest

from core.errors import PassCancelled
from core.events import PassResult, PassStarted
from gui.run import worker as worker_module
from gui.run.workflow_jobs import Variations
from tests.tiny_models.images import make_image, make_mask

ENGINE_TIMEOUT = 120_000
FAKE_MODEL = "fake-org/fake-model"  # a hub id: native size guessed as 512


class FakeEngine:
    """Records each pass's model spec; reports ``work`` as the size it works at."""

    def __init__(self, work: tuple[int, int] = (40, 24)) -> None:
        self.work = work
        self.specs: list = []

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.specs.append(spec)
        seed = request.seed or 0
        if on_event is not None:
            on_event(PassStarted(2, 4, self.work[0], self.work[1], seed))
        return PassResult(request.image.copy(), request, seed, 2, 0.01, "fake", "")


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: fake)
    return fake


@pytest.fixture
def window(empty_window):
    empty_window.set_root_image(make_image(96, 64))
    empty_window.state.update(model=FAKE_MODEL, steps=4, strength=0.5)
    return empty_window


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)


# -- work size ------------------------------------------------------------------------------------


def test_work_size_label_follows_picture_model_and_setting(window):
    label = window.panel.work_size_label
    assert label.objectName() == "workSizeLabel"
    # 96×64 is far below 512² for an SD 1.x model: auto scales it up to about 512².
    assert label.text() == "works at 624×416 → returns 96×64"
    window.state.work_size = "input"
    assert label.text() == "works at 96×64"
    window.state.work_size = "256x128"
    assert label.text() == "works at 256×128 → returns 96×64"
    window.state.update(work_size="auto", model="stabilityai/sdxl-turbo")  # SDXL: 1024²
    assert label.text() == "works at 1256×840 → returns 96×64"
    window.set_root_image(make_image(1024, 1024))
    assert label.text() == "works at 1024×1024"


def test_the_work_size_a_pass_started_at_is_shown_for_that_picture_and_model(window, engine, qtbot):
    label = window.panel.work_size_label
    assert window.generate()
    wait_idle(qtbot, window)
    assert len(window.tree) == 2  # the result (same size) is the input now
    assert label.text() == "works at 40×24 → returns 96×64"
    window.state.work_size = "input"  # another setting: the estimate again
    assert label.text() == "works at 96×64"
    window.state.work_size = "auto"
    assert label.text() == "works at 40×24 → returns 96×64"
    window.state.model = "other-org/other-model"
    assert label.text() == "works at 624×416 → returns 96×64"


def test_typed_work_size_is_bound_and_invalid_text_disables_generate(window, engine, qtbot):
    combo = window.panel.work_size_combo
    assert combo.objectName() == "workSizeCombo" and combo.isEditable()
    assert [combo.itemText(i) for i in range(combo.count())] == ["Auto", "Input size"]
    assert combo.currentText() == "Auto" and window.state.work_size == "auto"
    reason = window.panel.params_reason_label

    combo.lineEdit().clear()
    QTest.keyClicks(combo.lineEdit(), "768x")
    assert window.state.work_size == "768x"
    assert reason.isVisible() and "work size" in reason.text() and "\n" not in reason.text()
    assert not window.generate_button.isEnabled()
    assert not window.generate_action.isEnabled()
    assert window.generate() is False  # Ctrl+Enter or a script: refused with the reason
    assert window.error_banner.isVisible()

    QTest.keyClicks(combo.lineEdit(), "512")
    assert window.state.work_size == "768x512"
    assert not reason.isVisible() and window.generate_button.isEnabled()
    assert window.panel.work_size_label.text() == "works at 768×512 → returns 96×64"
    assert window.generate()
    wait_idle(qtbot, window)
    assert len(engine.specs) == 1 and len(window.tree) == 2

    combo.setCurrentIndex(1)
    assert window.state.work_size == "input"
    window.state.work_size = "auto"
    assert combo.currentText() == "Auto"


def test_work_size_reaches_the_request(window, engine, qtbot):
    requests = []
    real_submit = window.worker.submit
    window.worker.submit = lambda job: requests.append(job.request) or real_submit(job)
    window.state.work_size = "320x256"
    assert window.generate()
    wait_idle(qtbot, window)
    assert requests[0].work_size == "320x256"


def test_work_size_device_and_precision_are_remembered(qtbot):
    import main

    first = main.build_window([])
    qtbot.addWidget(first)
    first.state.update(work_size="768x512", device="cpu", dtype="bf16")
    first.close()

    second = main.build_window([])
    qtbot.addWidget(second)
    assert (second.state.work_size, second.state.device, second.state.dtype) == (
        "768x512",
        "cpu",
        "bf16",
    )
    assert second.panel.work_size_combo.currentText() == "768x512"
    assert second.panel.device_combo.currentText() == "cpu"
    assert second.panel.precision_combo.currentText() == "bf16"
    second.close()


def test_unusable_saved_values_are_skipped(window):
    window.panel.set_params({"work_size": "huge", "device": "tpu", "dtype": "fp8"})
    assert (window.state.work_size, window.state.device, window.state.dtype) == (
        "auto",
        "auto",
        "auto",
    )


# -- device and precision -------------------------------------------------------------------------


def test_a_job_from_the_window_carries_device_and_precision(window, engine, qtbot):
    panel = window.panel
    assert [panel.device_combo.itemText(i) for i in range(panel.device_combo.count())] == [
        "auto",
        "cpu",
        "cuda",
        "mps",
    ]
    assert [panel.precision_combo.itemText(i) for i in range(panel.precision_combo.count())] == [
        "auto",
        "fp32",
        "fp16",
        "bf16",
    ]
    panel.device_combo.setCurrentText("cpu")
    panel.precision_combo.setCurrentText("bf16")
    assert (window.state.device, window.state.dtype) == ("cpu", "bf16")
    assert window.generate()
    wait_idle(qtbot, window)
    spec = engine.specs[-1]
    assert (spec.reference, spec.device, spec.dtype) == (FAKE_MODEL, "cpu", "bf16")

    panel.device_combo.setCurrentText("cuda")
    panel.precision_combo.setCurrentText("fp16")
    assert window.workflows.start(Variations(2))  # workflows get them too
    wait_idle(qtbot, window)
    assert len(engine.specs) == 3
    assert all((s.device, s.dtype) == ("cuda", "fp16") for s in engine.specs[1:])


# -- masks from files -----------------------------------------------------------------------------


def test_load_mask_takes_the_alpha_of_a_transparent_file_as_one_undo_step(
    window, tmp_path, monkeypatch
):
    path = tmp_path / "mask.png"
    alpha = np.zeros((64, 96), np.uint8)
    alpha[10:30, 20:50] = 255
    pixels = np.zeros((64, 96, 4), np.uint8)  # black everywhere: only the alpha marks the box
    pixels[..., 3] = alpha
    Image.fromarray(pixels, "RGBA").save(path)

    window.canvas.set_mask_image(make_mask(96, 64))
    previous = np.asarray(window.canvas.mask_image()).copy()
    steps = window.undo_stack.count()
    toolbar = window.mask_toolbar
    monkeypatch.setattr(toolbar, "choose_mask_file", lambda: str(path))
    action = window.findChild(QAction, "loadMaskAction")
    assert action is not None and action in toolbar.actions()
    action.trigger()

    assert np.array_equal(np.asarray(window.canvas.mask_image()), alpha)
    assert window.undo_stack.count() == steps + 1
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(np.asarray(window.canvas.mask_image()), previous)


def test_load_mask_scales_a_grey_file_to_the_picture(window, tmp_path):
    path = tmp_path / "small.png"
    grey = np.zeros((32, 48), np.uint8)
    grey[:, 24:] = 255
    Image.fromarray(grey, "L").save(path)
    assert window.mask_toolbar.load_mask_file(path)
    mask = np.asarray(window.canvas.mask_image())
    assert mask.shape == (64, 96)
    assert mask[:, :40].max() == 0 and mask[:, 56:].min() == 255


def test_a_bad_mask_file_shows_one_line_and_changes_nothing(window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    steps = window.undo_stack.count()
    assert not window.mask_toolbar.load_mask_file(bad)
    assert window.error_banner.isVisible()
    message = window.error_label.text()
    assert "broken.png" in message and "\n" not in message
    assert window.canvas.mask_image() is None and window.undo_stack.count() == steps
    assert not window.mask_toolbar.load_mask_file(tmp_path / "missing.png")


# -- closing while a job runs ---------------------------------------------------------------------


class Stubborn:
    """Like a download or model load: checks cancel only after about a second."""

    def __init__(self) -> None:
        self.entered = threading.Event()

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.entered.set()
        time.sleep(1.0)
        if cancel is not None and cancel.cancelled:
            raise PassCancelled
        return PassResult(request.image.copy(), request, 1, 2, 0.01, "fake", "")


def test_closing_while_a_job_runs_returns_at_once_then_the_thread_finishes(
    window, qtbot, monkeypatch
):
    stubborn = Stubborn()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: stubborn)
    assert window.generate()
    qtbot.waitUntil(stubborn.entered.is_set, timeout=ENGINE_TIMEOUT)
    worker = window.worker
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 0.5  # no blocking wait on the GUI thread
    assert worker.running  # the job is still finishing: no events were processed since
    with qtbot.waitSignal(window.shut_down, timeout=10_000):
        pass
    assert not worker.running


CLOSE_WHILE_RUNNING = """
import sys, threading, time
from PySide6.QtCore import QTimer
from core.errors import PassCancelled
from tests.tiny_models.images import make_image
from gui.run import worker as worker_module
from gui.window.app import ensure_application, run_gui

entered = threading.Event()

class Stubborn:
    def run_pass(self, request, spec, on_event=None, cancel=None):
        entered.set()
        time.sleep(1.0)
        raise PassCancelled

worker_module.shared_engine = lambda: Stubborn()
app = ensure_application()
seen = {}

def start():
    window = next(w for w in app.topLevelWidgets() if w.objectName() == "mainWindow")
    window.set_root_image(make_image(64, 64))
    window.state.model = "fake-org/fake-model"
    seen["generated"] = window.generate()
    poll = QTimer(app)

    def close_when_running():
        if entered.is_set():
            poll.stop()
            started = time.perf_counter()
            window.close()
            seen["close_s"] = time.perf_counter() - started
            seen["running_after_close"] = getattr(window.worker, "running", None)
            seen["worker"] = window.worker

    poll.timeout.connect(close_when_running)
    poll.start(10)

QTimer.singleShot(100, start)
code = run_gui([])
worker = seen.pop("worker")
running_at_exit = getattr(worker, "running", None)
print(seen, code, running_at_exit)
ok = seen["generated"] and seen["close_s"] < 0.5 and seen["running_after_close"] is True
sys.exit(0 if ok and code == 0 and running_at_exit is False else 1)
"""


def test_closing_while_a_job_runs_quits_the_app_after_the_thread_ends(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "IMG2IMG_STUDIO_CONFIG_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_RUNNING],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Destroyed while thread" not in done.stderr
