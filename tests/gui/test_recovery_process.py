"""Crash recovery with real processes: the real app (``python -m tests.gui.recovery_hooks
PICTURE``) paints a mask, files a fake pass and autosaves through the test-only hook
(tests/gui/recovery_hooks.py); it is killed with SIGKILL, and a new window against the same data
folder offers and restores the work. A process killed halfway through an autosave leaves the
previous complete autosave to recover."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import ImageOps
from PySide6.QtWidgets import QDialog

from core.project import AutosaveStore
from tests.gui.recovery_hooks import TEST_HOOK_ENV, hook_mask
from tests.gui.session_helpers import TIMEOUT, pixels

STARTUP_S = 120  # a cold start on a busy machine imports Qt, numpy and Pillow


def _start_app(picture: Path, hook: str) -> tuple[subprocess.Popen, queue.Queue]:
    import main

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", TEST_HOOK_ENV: hook}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gui.recovery_hooks", str(picture)],
        cwd=Path(main.__file__).parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _wait_for(proc: subprocess.Popen, lines: queue.Queue, prefix: str) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith(prefix):
            return line
    proc.kill()
    pytest.fail(f"the app never printed {prefix!r}; its output: {seen}")


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()  # SIGKILL on POSIX: no clean exit, no cleanup
    proc.wait(30)
    assert proc.returncode != 0


def _recover_in_a_new_window(qtbot):
    import main

    window = main.build_window([])
    qtbot.addWidget(window)
    window.show()

    def dialog():
        return window.findChild(QDialog, "recoveryDialog")

    qtbot.waitUntil(lambda: dialog() is not None and dialog().isVisible(), timeout=10_000)
    dialog().accept()
    return window


def _check_recovered(window, input_png: Path, passes: int) -> None:
    from PIL import Image

    picture = Image.open(input_png).convert("RGB")
    mask = hook_mask(picture.size)
    records = window.tree.records()
    assert len(records) == 1 + passes
    assert pixels(records[0].image) == pixels(picture)
    assert pixels(records[1].image) == pixels(ImageOps.invert(picture))
    assert pixels(records[1].mask) == pixels(mask)
    assert window.tree.current_id == records[-1].id
    assert pixels(window.canvas.image()) == pixels(records[-1].image)
    assert pixels(window.canvas.mask_image()) == pixels(mask)
    assert window.isWindowModified()


def _autosave_folder() -> Path:
    return Path(os.environ["IMG2IMG_STUDIO_DATA_DIR"]) / "autosave"


def test_a_killed_app_is_recovered_by_the_next_start(qtbot, input_png):
    proc, lines = _start_app(input_png, "autosave")
    try:
        line = _wait_for(proc, lines, "AUTOSAVED")
    finally:
        _kill(proc)
    autosave = Path(line.split(" ", 1)[1])
    assert autosave.parent == _autosave_folder() and autosave.exists()
    assert AutosaveStore(_autosave_folder()).recoverable() == [autosave]

    window = _recover_in_a_new_window(qtbot)
    _check_recovered(window, input_png, passes=1)
    qtbot.waitUntil(lambda: not autosave.exists(), timeout=TIMEOUT)  # now in this one's autosave
    window.close()
    assert list(_autosave_folder().iterdir()) == []


def test_a_kill_during_an_autosave_recovers_the_previous_one(qtbot, input_png):
    proc, lines = _start_app(input_png, "slow-autosave")
    try:
        autosave = Path(_wait_for(proc, lines, "AUTOSAVED").split(" ", 1)[1])
        complete = autosave.read_bytes()
        _wait_for(proc, lines, "SAVING")  # the second pass's autosave is half written
        half_written = [p for p in _autosave_folder().iterdir() if p.name.endswith(".tmp")]
        assert len(half_written) == 1 and half_written[0].stat().st_size > 0
    finally:
        _kill(proc)
    assert autosave.read_bytes() == complete  # never touched by the unfinished save

    window = _recover_in_a_new_window(qtbot)
    _check_recovered(window, input_png, passes=1)  # the pass of the unfinished save is lost
    qtbot.waitUntil(lambda: not autosave.exists(), timeout=TIMEOUT)
    window.close()
    assert list(_autosave_folder().iterdir()) == []  # the half-written file is gone too
