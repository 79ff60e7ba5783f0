"""Drive the real main window and save a screenshot (run by packaging/screenshot.sh under Xvfb).

Opens a 512×512 test picture, paints a mask with mouse events, sets a prompt and a preset, and
grabs the window to a PNG. It runs no pass: the model it is given offline has random weights, and
its noise would be a dishonest picture of a result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.tiny_models.images import make_image  # noqa: E402


def wait(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def paint_stroke(canvas, points: list[tuple[float, float]]) -> None:
    """A real mouse drag over the canvas, in image coordinates."""
    viewport = canvas.viewport()

    def at(x: float, y: float):
        return canvas.mapFromScene(QPointF(x, y))

    none = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, none, at(*points[0]))
    for point in points[1:]:
        QTest.mouseMove(viewport, at(*point))
        QApplication.processEvents()
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, none, at(*points[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True, help="scratch folder")
    parser.add_argument("--out", default="docs/screenshot.png")
    args = parser.parse_args()

    # 1. The test picture and the window, exactly as `main.py IMAGE --model M` builds it.
    picture = Path(args.work) / "test-picture.png"
    make_image(512, 512, seed=3).save(picture)
    import main as entry

    window = entry.build_window([str(picture), "--model", args.model])
    window.resize(1400, 900)  # the default size (gui/window/layout.py): nothing may overflow
    window.show()
    wait(0.5)
    window.canvas.fit()
    window.state.update(
        prompt="soft coloured shapes on a gradient, watercolour, paper texture",
        negative_prompt="blurry, low quality",
        steps=12,
        seed=1234,
        seed_locked=True,
    )

    # 2. Paint a mask with the brush (two strokes), like a user would.
    window.canvas.brush.size = 56
    paint_stroke(window.canvas, [(120 + 12 * i, 300 - 6 * i) for i in range(20)])
    paint_stroke(window.canvas, [(140 + 10 * i, 360 - 3 * i) for i in range(20)])
    wait(0.2)

    # 3. No pass: the only model here has random weights and would show noise, so the picture is
    #    the window at work on a mask, ready to generate, in its default layout.
    window.panel.apply_preset("Gentle style transfer")
    window.canvas.fit()
    wait(0.5)

    # 5. Grab the window (contents only, no window-manager frame).
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        raise SystemExit(f"screenshot.py: could not write {out}")
    from gui.window import project_actions

    project_actions.ask_save_changes = lambda *_args: "discard"  # the painted mask: no question
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
