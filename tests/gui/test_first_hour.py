"""What a newcomer trips over in the first hour: names, feedback, banners, typing and shortcuts."""

from __future__ import annotations

import time

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.window import typing_guard
from gui.window.shortcuts_dialog import shortcut_rows

ENGINE_TIMEOUT = 120_000


def test_the_first_model_load_shows_a_loading_phase_with_text(main_window, qtbot, monkeypatch):
    from gui.run import worker

    monkeypatch.setattr(worker, "_engine", None)  # as on the first Generate after starting
    window = main_window
    shown: list[str] = []
    window.runner.progress_changed.connect(lambda *_: shown.append(window.progress_bar.text()))
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    loading = [text for text in shown if text.startswith("Loading")]
    assert loading and loading[0] == "Loading model…", shown  # readable, not an empty busy bar
    assert shown.index(loading[0]) < next(i for i, t in enumerate(shown) if t.startswith("step"))


def test_choose_a_model_banner_clears_once_a_model_is_set(empty_window, tiny_model_dir):
    window = empty_window
    window.set_root_image(Image.new("RGB", (64, 64)))
    window.state.model = ""
    assert window.generate() is False
    assert window.error_banner.isVisible() and "Choose a model" in window.error_label.text()
    window.state.model = str(tiny_model_dir)
    assert not window.error_banner.isVisible()


def test_an_unrelated_banner_stays_when_a_model_is_set(empty_window, tiny_model_dir):
    window = empty_window
    window.show_error("cannot read picture.png: not an image")
    window.state.model = str(tiny_model_dir)
    assert window.error_banner.isVisible()


def test_shortcuts_list_plain_undo_and_redo_whatever_the_last_edit(fake_window, qtbot):
    from tests.gui.session_helpers import generate

    window = fake_window
    record = generate(qtbot, window)
    window.continue_from(record.id)
    assert window.undo_action.text().startswith("Undo Use ")  # the menu names the edit
    names = {(row.place, row.action) for row in shortcut_rows(window)}
    assert ("Edit", "Undo") in names and ("Edit", "Redo") in names
    assert not any(action.startswith("Undo ") for _, action in names)


def test_letters_typed_outside_a_text_field_do_not_switch_tools(main_window, qtbot, monkeypatch):
    window = main_window
    now = [100.0]
    monkeypatch.setattr(typing_guard, "now", lambda: now[0])
    button = window.generate_button  # a click that missed the prompt: the focus is elsewhere
    button.setFocus()
    window.canvas.set_tool("pan")
    for letter in "tbre":  # typing a word: each key within a moment of the last
        now[0] += 0.15
        QTest.keyClicks(button, letter)
    assert window.canvas.tool() == "pan"
    now[0] += 2.0  # a pause: a single letter is a shortcut again
    QTest.keyClicks(button, "b")
    assert window.canvas.tool() == "brush"


def test_tool_shortcuts_never_fire_while_a_text_field_has_focus(main_window):
    window = main_window
    window.canvas.set_tool("pan")
    window.panel.prompt_edit.setFocus()
    QTest.keyClicks(window.panel.prompt_edit, "bear")
    assert window.canvas.tool() == "pan" and "bear" in window.state.prompt
    assert window.typing_guard.typing()


def test_a_tool_switch_flashes_in_the_status_bar(main_window, qtbot, monkeypatch):
    window = main_window
    window.canvas.setFocus()
    monkeypatch.setattr(typing_guard, "now", lambda: time.monotonic() + 10)  # long after typing
    QTest.keyClick(window.canvas, Qt.Key.Key_R)
    assert window.canvas.tool() == "strength"
    assert window.statusBar().currentMessage() == "Tool: Region strength (R)"


def test_the_panel_says_when_a_region_strength_map_replaces_the_slider(main_window):
    window = main_window
    assert "steps will run" in window.panel.steps_label.text()
    window.canvas.fill_strength_map()
    text = window.panel.steps_label.text()
    assert "Region strength map" in text and "slider is not used" in text
    window.canvas.clear_strength_map()
    assert "steps will run" in window.panel.steps_label.text()


def test_painting_tools_wait_for_a_picture(empty_window):
    window = empty_window
    assert not window.mask_toolbar.isEnabled() and not window.strength_toolbar.isEnabled()
    assert window.starts_from_label.text() == "Starts from: no picture yet"
    window.set_root_image(Image.new("RGB", (64, 64)), "photo")
    assert window.mask_toolbar.isEnabled() and window.strength_toolbar.isEnabled()
    assert window.starts_from_label.text() == "Starts from: photo"


def test_the_work_size_line_keeps_its_place_so_the_presets_never_move(empty_window):
    window = empty_window
    preset = window.panel.preset_buttons["Gentle style transfer"]
    before = preset.mapTo(window, preset.rect().topLeft())
    window.set_root_image(Image.new("RGB", (640, 480)), "photo")
    window.state.model = "some/model"
    QTest.qWait(50)
    assert window.panel.work_size_label.text()
    assert preset.mapTo(window, preset.rect().topLeft()) == before
