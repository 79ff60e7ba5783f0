"""Candidates on the tiny model: Generate makes N to flip through; Accept files one."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

ENGINE_TIMEOUT = 120_000


def _make_candidates(qtbot, window, count: int = 3):
    window.live.candidate_count.setValue(count)
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    return window.live.candidates


def _shown_on_canvas(window) -> np.ndarray:
    """The picture drawn over the canvas's own (a candidate's), as an RGB array."""
    assert window.canvas.is_preview_shown()
    from gui.qt_images import qimage_to_pil

    return np.asarray(qimage_to_pil(window.canvas._preview_item.pixmap().toImage()).convert("RGB"))


def test_candidates_flip_with_the_arrow_keys_and_accept_files_the_chosen_one(main_window, qtbot):
    window = main_window
    candidates = _make_candidates(qtbot, window)
    strip = window.live.strip
    assert [r.seed for r in candidates.results] == [1, 2, 3]  # the locked seed, then +1, +2
    assert len(window.tree) == 1  # nothing filed yet
    assert strip.isVisible() and strip.objectName() == "candidateStrip"
    assert candidates.index == 0 and "1/3 · seed 1" in strip.label.text()
    first = np.asarray(candidates.results[0].image.convert("RGB"))
    assert np.array_equal(_shown_on_canvas(window), first)  # drawn over the canvas

    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    assert candidates.index == 2 and "3/3 · seed 3" in strip.label.text()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)  # wraps around
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)
    assert candidates.index == 2
    chosen = candidates.results[2]
    assert np.array_equal(_shown_on_canvas(window), np.asarray(chosen.image.convert("RGB")))

    undo_steps = window.undo_stack.count()
    qtbot.mouseClick(strip.accept_button, Qt.MouseButton.LeftButton)
    assert len(window.tree) == 2 and window.undo_stack.count() == undo_steps + 1
    record = window.tree.current
    assert record.parent_id == "root" and record.seed == 3
    assert record.name == "Candidate 3/3 · seed 3"
    assert np.array_equal(np.asarray(record.image), np.asarray(chosen.image))
    assert not strip.isVisible() and not candidates.active
    window.undo_stack.undo()
    assert window.tree.current_id == "root"


def test_discard_drops_every_candidate_and_one_means_an_ordinary_pass(main_window, qtbot):
    window = main_window
    candidates = _make_candidates(qtbot, window, count=2)
    assert len(candidates.results) == 2 and window.live.strip.isVisible()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert not candidates.active and not window.live.strip.isVisible()
    assert len(window.tree) == 1 and not window.canvas.is_preview_shown()
    window.live.candidate_count.setValue(1)
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert len(window.tree) == 2 and not candidates.active  # filed at once, as before


def test_generate_is_the_runners_the_button_and_shortcut_ask_it_for_candidates(main_window, qtbot):
    """The count box sets the runner's candidate count; the Generate button (and Ctrl+Return)
    reach the runner, which starts the candidates; the strip stages them from its signals."""
    window = main_window
    window.live.candidate_count.setValue(2)
    assert window.runner.candidate_count == 2
    started: list[int] = []
    window.runner.candidates_started.connect(started.append)
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    candidates = window.live.candidates
    assert started == [2] and [r.seed for r in candidates.results] == [1, 2]
    assert len(window.tree) == 1 and window.live.strip.isVisible()

    window.runner.candidate_count = 1  # the runner's setting alone decides
    window.generate_action.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert started == [2] and len(window.tree) == 2  # one ordinary pass, filed


def test_discard_while_candidates_run_stops_them_and_keeps_none(main_window, qtbot):
    window = main_window
    window.state.update(steps=200, strength=1.0)
    window.runner.candidate_count = 3
    with qtbot.waitSignal(window.runner.candidate_ready, timeout=ENGINE_TIMEOUT):
        assert window.generate()
    candidates = window.live.candidates
    assert candidates.running and len(candidates.results) == 1
    candidates.discard()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert not candidates.active and candidates.results == [] and len(window.tree) == 1
    assert window.progress_bar.format() == "Cancelled"
