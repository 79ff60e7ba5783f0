"""Start the desktop app: build the window from command-line arguments, run the qasync loop.

Nothing here imports torch: the engine loads on the worker thread at the first pass.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.project import PROJECT_SUFFIX, is_project_file
from gui.window.app_icon import app_icon
from gui.window.main_window import MainWindow
from gui.window.settings import APP_NAME, Settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="img2img-studio", description=APP_NAME)
    parser.add_argument("image", nargs="?", help="picture or project (.i2i) to open")
    parser.add_argument("--model", help="diffusers folder, .safetensors file or hub id")
    parser.add_argument("--model-config", help="config folder for a single-file checkpoint")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="show the window, print SMOKE-TEST: window shown, close after 3 s (packaging)",
    )
    return parser.parse_args(argv)


def ensure_application() -> QApplication:
    """The QApplication, created with the app's names if none exists yet."""
    app = QApplication.instance()
    if app is None:
        QApplication.setApplicationName("img2img-studio")
        QApplication.setApplicationDisplayName(APP_NAME)
        QApplication.setOrganizationName("img2img-studio")
        app = QApplication(sys.argv[:1])
        app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def build_window(argv: list[str]) -> MainWindow:
    """Create the QApplication if needed and return the main window (not shown yet)."""
    args = parse_args(argv)
    ensure_application()
    window = MainWindow(Settings.load())
    if args.image and (args.image.lower().endswith(PROJECT_SUFFIX) or is_project_file(args.image)):
        window.open_project(args.image)
    elif args.image:
        window.files.open_path(args.image)
    if args.model:  # after a project: the command line wins
        window.state.update(model=args.model, model_config=args.model_config or "")
    elif args.model_config:
        window.state.model_config = args.model_config
    return window


def run_gui(argv: list[str], on_shown: Callable[[MainWindow], None] | None = None) -> int:
    """Show the window and run the Qt event loop through qasync; returns the exit code.
    ``on_shown(window)`` runs once the window is shown (the recovery process test's hooks)."""
    import qasync

    window = build_window(argv)
    app = ensure_application()
    window.show()
    if parse_args(argv).smoke_test:  # packaging/smoke_test.sh: the window appears, then closes
        QTimer.singleShot(0, lambda: print("SMOKE-TEST: window shown", flush=True))
        QTimer.singleShot(3000, window.close)
    if window.tree.root is not None:
        window.canvas.fit()
    if on_shown is not None:
        on_shown(window)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    quit_event = asyncio.Event()
    app.aboutToQuit.connect(quit_event.set)
    # Quit once the window is closed and its worker thread has finished (a job that only checks
    # cancel between chunks may take a moment): the event loop keeps running until then.
    app.setQuitOnLastWindowClosed(False)
    window.shut_down.connect(app.quit)
    with loop:
        loop.run_until_complete(quit_event.wait())
    return 0
