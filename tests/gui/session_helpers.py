"""Helpers for the project, autosave and recovery tests: a fake engine, strokes, generating and
comparisons of whole sessions."""

from __future__ import annotations

import threading
import time

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from core.errors import PassCancelled
from core.events import PassResult
from core.history import PassRecord, PassTree

TIMEOUT = (
    120_000  # ms: the first pass imports torch on the worker thread; tiny 2026 models are slow
)


class FakeEngine:
    """Returns the inverted input at once; with ``block`` set, waits until cancelled."""

    def __init__(self) -> None:
        self.block = False
        self.entered = threading.Event()

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.entered.set()
        while self.block:
            if cancel is not None and cancel.cancelled:
                time.sleep(0.5)  # like a model load that checks cancel only between chunks
                raise PassCancelled
            time.sleep(0.01)
        image = ImageOps.invert(request.image.convert("RGB"))
        record = {"strength": request.strength, "seed": request.seed, "prompt": request.prompt}
        steps = request.effective_steps
        return PassResult(image, request, request.seed or 0, steps, 0.01, "fake", "", record)


def generate(qtbot, window) -> PassRecord:
    count = len(window.tree)
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    assert len(window.tree) == count + 1, window.error_label.text()
    return window.shown_record()  # the new pass, shown and selected (the input stays)


def drag(canvas, points, tool: str = "brush") -> None:
    """One stroke with real mouse events (image coordinates)."""
    canvas.set_tool(tool)
    viewport, left, none = canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)

    def at(x: float, y: float) -> QPoint:
        return canvas.mapFromScene(QPointF(x, y))

    QTest.mousePress(viewport, left, none, at(*points[0]))
    for point in points[1:]:
        QTest.mouseMove(viewport, at(*point))
    QTest.mouseRelease(viewport, left, none, at(*points[-1]))


def pixels(image: Image.Image | None) -> tuple | None:
    return None if image is None else (image.mode, image.size, np.asarray(image).tobytes())


def record_fields(record: PassRecord, with_created: bool = True) -> tuple:
    return (
        record.id,
        record.parent_id,
        record.name,
        record.params,
        record.duration,
        record.created if with_created else None,
        record.group,
        pixels(record.image),
        pixels(record.mask),
        pixels(record.strength_map),
    )


def tree_fields(tree: PassTree) -> list[tuple]:
    """Every record of ``tree`` (the root's creation time aside: a new root is made on load)."""
    return [record_fields(r, with_created=not r.is_root) for r in tree.records()]
