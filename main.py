"""Img2Img Studio entry point: the GUI by default, headless subcommands for scripts.

``python main.py [IMAGE | PROJECT.i2i] [--model M] [--model-config DIR]`` starts the window;
``python main.py generate|info|upscale|batch|outpaint|diff ...`` runs headless (``--help``).
"""

from __future__ import annotations

import sys

HEADLESS_COMMANDS = {
    "generate", "info", "upscale", "batch", "outpaint", "faces", "diff", "models", "serve",
}  # fmt: skip


def build_window(argv: list[str] | None = None):
    """Create the QApplication if needed and return the (not yet shown) main window."""
    from gui.window.app import build_window as _build

    return _build(list(sys.argv[1:] if argv is None else argv))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in HEADLESS_COMMANDS or args[0] in {"-h", "--help", "--version"}):
        from core.cli.main import main as cli_main

        return cli_main(args)
    from gui.window.app import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
