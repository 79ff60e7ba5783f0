"""The faces dialog shows a broken YuNet file's one-line reason (no traceback)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.core.test_face_detector_file import broken_yunet

DATA = Path(__file__).parent.parent / "data" / "faces"


def test_the_dialog_shows_the_line(tmp_path, monkeypatch):
    from gui.window.faces_dialog import _Detection, _DetectionSignals

    model = tmp_path / "mine.onnx"
    model.write_bytes(broken_yunet("garbage"))
    monkeypatch.setenv("IMG2IMG_STUDIO_FACE_MODEL", str(model))
    signals = _DetectionSignals()
    failures: list[str] = []
    signals.failed.connect(lambda _n, text: failures.append(text))
    _Detection(1, Image.open(DATA / "astronaut.jpg"), signals).run()
    assert len(failures) == 1 and "\n" not in failures[0] and "not a readable YuNet" in failures[0]
