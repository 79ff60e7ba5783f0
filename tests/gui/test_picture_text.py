"""Opening or dropping a picture with a huge parameters chunk: the GUI thread reads at most the
infotext cap, asks nothing and says in the status bar what it did not read."""

from __future__ import annotations

import time

from PIL import PngImagePlugin
from PySide6.QtWidgets import QMessageBox, QWidget

from core.history import PassTree
from gui.window.file_actions import FileActions
from gui.window.settings import Settings
from tests.tiny_models.images import make_image


def test_a_megabyte_parameters_chunk_does_not_stall_opening_a_picture(qtbot, tmp_path, monkeypatch):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a" * 1_000_000)  # minutes of A1111's regex
    path = tmp_path / "huge-text.png"
    make_image(16, 16).save(path, pnginfo=info)
    parent = QWidget()
    qtbot.addWidget(parent)
    files = FileActions(parent, PassTree(), Settings(path=tmp_path / "s.json"), lambda: None)
    boxes: list = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: boxes.append(box))
    messages: list[str] = []
    files.message.connect(lambda text, _ms: messages.append(text))
    opened: list = []
    files.image_opened.connect(lambda *args: opened.append(args))
    started = time.perf_counter()
    assert files.open_path(path, offer_parameters=True)
    assert time.perf_counter() - started < 1.0
    assert opened and boxes == []  # the picture opened; nothing to restore, nothing asked
    assert any("huge-text.png: its parameters text" in m and "not read" in m for m in messages)
