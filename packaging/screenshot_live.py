"""Drive the real main window in live mode and save a screenshot.

Run under Xvfb like packaging/screenshot.sh does (it builds the tiny model this needs):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python packaging/screenshot_live.py \
        --model TINY_MODEL --work SCRATCH --out docs/screenshot-live.png

Opens a picture with clear shapes, turns live mode on, paints a mask stroke over the roof and
grabs the window once the live result for it is shown beside the canvas.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshot_control import shapes_picture  # noqa: E402


def wait(seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        QApplication.processEvents()
        time.sleep(0.01)


def stroke(canvas, points) -> None:
    viewport, left, none = canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    at = [canvas.mapFromScene(QPointF(x, y)) for x, y in points]
    QTest.mousePress(viewport, left, none, at[0])
    for point in at[1:]:
        QTest.mouseMove(viewport, point)
        wait(0.01)
    QTest.mouseRelease(viewport, left, none, at[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True, help="scratch folder")
    parser.add_argument("--out", default="docs/screenshot-live.png")
    args = parser.parse_args()
    work = Path(args.work)

    # 1. The picture and the window, as `main.py IMAGE --model M` builds it.
    picture = work / "house.png"
    shapes_picture().save(picture)
    import main as entry

    window = entry.build_window([str(picture), "--model", args.model])
    window.resize(1500, 940)
    window.show()
    wait(0.5)
    window.state.update(
        prompt="a cottage at dusk, watercolor, soft light", steps=8, seed=7, seed_locked=True
    )

    # 2. Live mode on; a mask stroke over the roof; the live result follows.
    live = window.live
    live.set_live(True)
    done = lambda: live.controller.frame is not None and not live.controller.loop.busy  # noqa: E731
    wait(300, until=done)
    window.canvas.brush.size = 60
    stroke(window.canvas, [(150, 250), (220, 190), (260, 150), (320, 200), (380, 250)])
    wait(300, until=done)
    wait(0.5)

    # 3. Grab the window (contents only).
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        raise SystemExit(f"screenshot_live.py: could not write {out}")
    live.set_live(False)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
