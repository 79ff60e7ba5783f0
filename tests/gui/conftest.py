"""GUI tests run on the offscreen Qt platform (set before any QApplication exists)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtGui import QUndoStack

from gui.canvas.canvas import Canvas
from tests.tiny_models.images import make_image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _discard_unsaved_work_on_close(monkeypatch):
    """Closing a window with unsaved work asks (Save / Discard / Cancel); tests discard unless
    they replace the question themselves."""
    from gui.window import project_actions

    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *_args: "discard")


# -- canvas fixtures (canvas, mask and strength-map tests) ---------------------------------------


@pytest.fixture
def undo_stack():
    return QUndoStack()


@pytest.fixture
def canvas(qtbot, undo_stack):
    view = Canvas(undo_stack)
    qtbot.addWidget(view)
    view.resize(500, 360)
    view.show()
    qtbot.waitExposed(view)
    view.set_image(make_image(200, 120))
    return view


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


# -- project, autosave and recovery fixtures (a fake engine: no model needed) ----------------


@pytest.fixture
def fake_engine(monkeypatch):
    from gui.run import worker as worker_module
    from tests.gui.session_helpers import FakeEngine

    engine = FakeEngine()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: engine)
    return engine


@pytest.fixture
def fake_window(qtbot, fake_engine, input_png):
    """The real window on the test picture, its passes run by a fake engine (no model)."""
    import main

    win = main.build_window([str(input_png), "--model", "fake/model"])
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.state.update(steps=4, strength=0.5, prompt="a test")
    yield win
    win.close()
