"""Hooks for the crash-recovery process test (tests/gui/test_recovery_process.py), which starts
the app as ``python -m tests.gui.recovery_hooks PICTURE`` with ``IMG2IMG_STUDIO_TEST_HOOK`` naming
a hook: ``run_gui`` runs :func:`install` once the window is shown. Both hooks need a picture.

``autosave``: paint a mask (:func:`hook_mask`), file one fake pass (the inverted picture), wait
until the autosave holds both and print ``AUTOSAVED <path>``; the test then kills the process.

``slow-autosave``: the same, then make autosave writes hang halfway through the file, file a
second fake pass and print ``SAVING`` once its autosave has started writing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageOps
from PySide6.QtCore import QTimer

from core.events import PassResult
from core.requests import PassRequest

if TYPE_CHECKING:
    from gui.window.main_window import MainWindow

TEST_HOOK_ENV = "IMG2IMG_STUDIO_TEST_HOOK"
HOOKS = ("autosave", "slow-autosave")


def hook_mask(size: tuple[int, int]) -> Image.Image:
    """The mask the hooks paint: white over the top-left quarter."""
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=255)
    return mask


def fake_result(image: Image.Image, mask: Image.Image) -> PassResult:
    """A pass result without a model: the inverted input, made with ``mask``."""
    request = PassRequest(image=image, mask=mask, strength=0.5, seed=7)
    inverted = ImageOps.invert(image.convert("RGB"))
    return PassResult(inverted, request, 7, 15, 0.1, "fake", "", {"strength": 0.5, "seed": 7})


def install(window: MainWindow) -> None:
    """Start the hook named by ``IMG2IMG_STUDIO_TEST_HOOK`` (nothing when unset)."""
    hook = os.environ.get(TEST_HOOK_ENV, "")
    if hook in HOOKS:
        QTimer.singleShot(0, lambda: _run(window, slow=hook == "slow-autosave"))


def _run(window: MainWindow, slow: bool) -> None:
    root = window.tree.root
    if root is None:
        print("NO IMAGE", flush=True)
        return
    mask = hook_mask(root.image.size)
    window.canvas.set_mask_image(mask)
    _file_pass(window, root.id, mask)
    _when_idle(window, lambda: _autosaved(window, mask, slow))


def _file_pass(window: MainWindow, parent_id: str, mask: Image.Image) -> None:
    result = fake_result(window.tree.get(parent_id).image, mask)
    record = window.runner.add_result(parent_id, result)
    window.runner.apply_record(record.id)
    window.autosaver.save_now()


def _when_idle(window: MainWindow, then: Callable[[], None]) -> None:
    poll = QTimer(window)

    def check() -> None:
        if window.autosaver.idle:
            poll.stop()
            then()

    poll.timeout.connect(check)
    poll.start(50)


def _autosaved(window: MainWindow, mask: Image.Image, slow: bool) -> None:
    print(f"AUTOSAVED {window.autosaver.store.path}", flush=True)
    if not slow:
        return
    from core.project import files

    write_member = files._write_member

    def hanging_write(*args: Any, **kwargs: Any) -> None:
        print("SAVING", flush=True)
        time.sleep(600)  # the test kills the process meanwhile
        write_member(*args, **kwargs)

    files._write_member = hanging_write
    current = window.tree.current_id
    assert current is not None
    _file_pass(window, current, mask)


if __name__ == "__main__":
    import sys

    from gui.window.app import run_gui

    sys.exit(run_gui(sys.argv[1:], on_shown=install))
