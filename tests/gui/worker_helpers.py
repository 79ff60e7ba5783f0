"""The window's side of the remote-worker tests: choose a worker and connect, Generate and wait."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from gui.params.worker_choice import REMOTE

PASS_TIMEOUT_MS = 120_000


def go_remote(qtbot: Any, window: Any, url: str, token: str) -> str:
    """Choose Remote worker, type the URL and token, Connect; returns the state label's text."""
    panel = window.worker_choice.panel
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REMOTE))
    panel.url_edit.setText(url)
    panel.token_edit.setText(token)
    qtbot.mouseClick(panel.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.state_label.text() != "connecting…", timeout=30_000)
    return panel.state_label.text()


def generate_and_wait(qtbot: Any, window: Any) -> None:
    """Press Generate and wait until the window is no longer busy."""
    with qtbot.waitSignal(
        window.runner.busy_changed, check_params_cb=lambda busy: not busy, timeout=PASS_TIMEOUT_MS
    ):
        assert window.generate()
