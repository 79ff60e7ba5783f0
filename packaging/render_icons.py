"""Render resources/icons/img2img-studio.svg to the PNG sizes the desktop entry and the window use.

Run after editing the SVG: ``python packaging/render_icons.py`` (writes
resources/icons/img2img-studio-<size>.png). Uses Qt's own SVG renderer, nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "img2img-studio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # the hicolor theme's usual app sizes


def png_path(size: int) -> Path:
    return ICONS / f"img2img-studio-{size}.png"


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt up)
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"render_icons: cannot read {SVG}", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(png_path(size)))
        print(f"wrote {png_path(size).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
