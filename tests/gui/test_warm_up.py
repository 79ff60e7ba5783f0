"""The chosen model loads in the background before the first Generate (gui.run.warm_up): the
first pass then loads nothing; the Generate menu turns it off, and the settings keep that."""

from __future__ import annotations

import pytest

from gui.run import worker as worker_module
from gui.window.settings import Settings
from tests.gui.session_helpers import TIMEOUT, generate


@pytest.fixture
def warm_window(qtbot, tiny_model_dir, input_png, monkeypatch):
    """The real window with warming up allowed (the tests' default turns it off) and a fresh
    shared engine (no model loaded by earlier tests)."""
    import main

    monkeypatch.setenv("IMG2IMG_STUDIO_WARM_UP", "1")
    monkeypatch.setattr(worker_module, "_engine", None)
    window = main.build_window([str(input_png), "--model", str(tiny_model_dir)])
    window.warmed = []  # connected before the event loop runs: the warm-up waits for its timer
    window.worker.warmed.connect(window.warmed.append)
    qtbot.addWidget(window)
    window.state.update(device="cpu", steps=2, strength=0.5, prompt="a test")
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def test_the_first_generate_finds_the_model_loaded(qtbot, warm_window):
    window = warm_window
    assert window.warm_up_action.isChecked()
    qtbot.waitUntil(lambda: bool(window.warmed), timeout=TIMEOUT)  # by itself, once chosen
    assert len(window.warmed) == 1 and window.warmed[0].startswith("warmed up: "), window.warmed
    status = window.statusBar()
    qtbot.waitUntil(lambda: status.currentMessage().startswith("Model ready: "), timeout=5000)

    engine = worker_module.shared_engine()
    loads = []
    load_new = engine.models._load_new
    engine.models._load_new = lambda *a, **k: loads.append(1) or load_new(*a, **k)
    record = generate(qtbot, window)
    assert loads == []  # the pass ran on the model the warm-up loaded
    assert record.params["model"]["device"] == "cpu"
    assert not window.warm_up.start_now()  # the same model is not loaded again


def test_the_menu_turns_it_off_and_the_settings_keep_it(qtbot, warm_window):
    window = warm_window
    window.warm_up_action.setChecked(False)
    assert not Settings.load().warm_up
    assert not window.warm_up.start_now()
    assert not window.worker.warming_up
    window.warm_up_action.setChecked(True)
    assert Settings.load().warm_up and window.warm_up.enabled


def test_with_compile_on_the_warm_up_compiles_at_the_pictures_size(qtbot, warm_window, monkeypatch):
    import core.models.loading as loading

    # CPUs never compile (CUDA only): stand in for the compile, keep everything else real.
    monkeypatch.setattr(loading, "compile_repeated_blocks", lambda *a, **k: "regional")
    window = warm_window
    count = len(window.tree)
    window.state.update(compile=True)  # the panel's Compile box (greyed out without a GPU)
    qtbot.waitUntil(lambda: bool(window.warmed), timeout=TIMEOUT)
    [outcome] = window.warmed
    width, height = window.tree.current.image.size
    assert outcome.startswith("warmed up: ") and f"; compiled for {width}×{height} in " in outcome
    assert len(window.tree) == count  # the warm-up pass is thrown away: nothing filed

    record = generate(qtbot, window)
    assert record.params["model"]["compile"] == "regional"
