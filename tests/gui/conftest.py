"""GUI tests run on the offscreen Qt platform (set before any QApplication exists)."""

from __future__ import annotations

import os

import pytest

from core.testing.images import make_image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


# -- main window fixtures (generation, history, worker tests) -----------------------------------


@pytest.fixture
def input_png(tmp_path):
    """A 96×64 test picture on disk (a multiple of 8, so passes keep its size)."""
    path = tmp_path / "input.png"
    make_image(96, 64).save(path)
    return path


@pytest.fixture
def main_window(qtbot, tiny_model_dir, input_png):
    """The real window from ``main.build_window`` with the test picture and the tiny model."""
    import main

    window = main.build_window([str(input_png), "--model", str(tiny_model_dir)])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.state.update(steps=4, strength=0.5, prompt="a test", seed_locked=True, seed=1)
    yield window
    window.close()


@pytest.fixture
def empty_window(qtbot):
    """The window with no image and no model (as on a first start)."""
    import main

    window = main.build_window([])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
