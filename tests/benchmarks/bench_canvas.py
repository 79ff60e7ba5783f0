"""Benchmark: painting a mask stroke on a 2048×2048 picture (``make bench`` runs it offscreen).

Sends real mouse events to the canvas viewport, processes events and repaints after each one,
and records the time per event: what a user feels as brush lag. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def measure(size: int = 2048, moves: int = 200, brush: int = 96) -> dict:
    """Time a diagonal brush drag of ``moves`` mouse events over a ``size``² picture."""
    from PIL import Image
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QUndoStack
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from gui.canvas.canvas import Canvas

    app = QApplication.instance() or QApplication([])
    canvas = Canvas(QUndoStack())
    canvas.resize(1200, 900)
    canvas.show()
    canvas.set_image(Image.new("RGB", (size, size), (90, 90, 90)))
    canvas.fit()
    canvas.set_brush_size(brush)
    app.processEvents()
    viewport = canvas.viewport()

    def at(i: int):
        t = i / moves
        return canvas.mapFromScene(QPointF(64 + t * (size - 128), 64 + t * (size - 128)))

    none = Qt.KeyboardModifier.NoModifier
    times = []
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, none, at(0))
    for i in range(1, moves + 1):
        started = time.perf_counter()
        QTest.mouseMove(viewport, at(i))
        viewport.repaint()
        app.processEvents()
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, none, at(moves))
    app.processEvents()
    release = time.perf_counter() - started
    canvas.close()
    return {
        "image": f"{size}x{size}",
        "brush_px": brush,
        "mouse_events": moves,
        "mean_ms_per_event": round(statistics.mean(times) * 1000, 2),
        "p95_ms_per_event": round(sorted(times)[int(0.95 * len(times)) - 1] * 1000, 2),
        "max_ms_per_event": round(max(times) * 1000, 2),
        "stroke_end_ms": round(release * 1000, 2),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="bench-out/canvas.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = measure()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
