"""Drive the real main window with the Control panel in use and save a screenshot.

Run under Xvfb like packaging/screenshot.sh does (it builds the tiny model this needs):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python packaging/screenshot_control.py \
        --model TINY_MODEL --work SCRATCH --out docs/screenshot-control.png

Opens a picture with clear shapes, runs one pass, then sets a LoRA, a Canny control layer shown
over the canvas and a reference picture in the Control panel, and grabs the window.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import ImageDraw  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QDockWidget  # noqa: E402

from tests.tiny_models.images import make_image  # noqa: E402


def wait(seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        QApplication.processEvents()
        time.sleep(0.01)


def shapes_picture(size: int = 512):
    """A test picture with a house-like outline that Canny picks up."""
    picture = make_image(size, size, seed=3)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((140, 250, 380, 450), fill=(70, 60, 55))
    draw.polygon([(120, 260), (260, 130), (400, 260)], fill=(150, 40, 35))
    draw.rectangle((230, 340, 290, 450), fill=(235, 220, 180))
    draw.ellipse((400, 60, 470, 130), fill=(250, 230, 120))
    return picture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--work", required=True, help="scratch folder")
    parser.add_argument("--out", default="docs/screenshot-control.png")
    args = parser.parse_args()
    work = Path(args.work)

    # 1. The picture and the window, as `main.py IMAGE --model M` builds it; one pass.
    picture = work / "house.png"
    shapes_picture().save(picture)
    reference = work / "sunset.png"
    make_image(384, 256, seed=11).save(reference)
    lora = work / "watercolor_style.safetensors"
    import main as entry

    window = entry.build_window([str(picture), "--model", args.model])
    window.resize(1500, 980)
    window.show()
    wait(0.5)
    window.state.update(
        prompt="a cottage at dusk, watercolor, soft light", steps=8, seed=7, seed_locked=True
    )
    if not window.generate():
        raise SystemExit("screenshot_control.py: " + window.error_label.text())
    wait(300, until=lambda: not window.busy)
    window.continue_from(window.tree.root_id)  # the next pass starts from the house again

    # 2. The Control panel: a LoRA at 0.8, a Canny layer shown on the canvas, a reference.
    panel = window.control_panel
    panel.add_lora_file(str(lora), 0.8)
    panel.add_control_layer()
    panel.edit("controls", 0, "Control", {"model": "lllyasviel/sd-controlnet-canny", "end": 0.8})
    panel.add_reference_entry()
    panel.set_picture("references", 0, str(reference))
    panel.edit("references", 0, "Reference", {"model": "h94/IP-Adapter", "scale": 0.5})
    panel.show_on_canvas(0)
    dock = window.findChild(QDockWidget, "controlDock")
    dock.raise_()
    generate_dock = window.findChild(QDockWidget, "generationDock")
    window.resizeDocks([generate_dock, dock], [330, 650], Qt.Orientation.Vertical)
    window.canvas.fit()
    wait(0.5)

    # 3. Grab the window (contents only).
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        raise SystemExit(f"screenshot_control.py: could not write {out}")
    window.project.mark_clean()  # nothing to keep: close without asking about unsaved work
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
