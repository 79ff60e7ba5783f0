"""Write the README's keyboard-shortcut table from the window's actions (the same rows as
Help › Keyboard shortcuts). Run after adding or changing a shortcut:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/readme_shortcuts.py

tests/packaging/test_packaging_files.py fails while the README's table is out of date.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- shortcuts:start (packaging/readme_shortcuts.py) -->", "<!-- shortcuts:end -->"


def generated_table() -> str:
    """The table for the window as it starts (no picture, no project)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("IMG2IMG_STUDIO_CONFIG_DIR", tempfile.mkdtemp())
    sys.path.insert(0, str(ROOT))
    from gui.window.app import build_window
    from gui.window.shortcuts_dialog import CANVAS_KEYS, shortcut_rows, shortcuts_markdown

    window = build_window([])
    try:
        return shortcuts_markdown([*shortcut_rows(window), *CANVAS_KEYS])
    finally:
        window.worker.shutdown(wait_ms=5000)


def readme_table(text: str) -> str:
    """The table between the markers in the README text."""
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{generated_table()}{END}{after}", encoding="utf-8")
    print(f"updated the shortcut table in {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
