"""The app icon (resources/icons: one SVG drawn for the app and PNG renderings of it)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from core.resources import bundled_resource

ICON_NAME = "img2img-studio"  # the file stem, the .desktop entry's Icon= and the command's name
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """The window and taskbar icon: every PNG size, so each place picks a crisp one."""
    icon = QIcon()
    folder = bundled_resource("icons")
    for size in ICON_SIZES:
        path = folder / f"{ICON_NAME}-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon
