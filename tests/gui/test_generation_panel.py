"""Generation panel: slider/spin/label sync, presets, seed lock, parameter restore, bindings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from core.presets import PRESETS
from core.requests import MAX_SEED, SCHEDULER_NAMES, PassRequest
from gui.params.bindings import bind
from gui.params.generation_panel import GenerationPanel
from gui.params.state import GenerationParams
from tests.tiny_models.images import make_image


def _request(panel: GenerationPanel) -> PassRequest:
    """The request the panel's state gives at its current seed."""
    return panel.state.pass_request(make_image(64, 64), seed=panel.state.seed).validate()


@pytest.fixture
def panel(qtbot):
    widget = GenerationPanel()
    qtbot.addWidget(widget)
    widget.resize(380, 900)
    widget.show()
    return widget


def test_widgets_carry_the_contract_object_names(panel):
    for name in (
        "promptEdit",
        "negativePromptEdit",
        "strengthSlider",
        "strengthSpin",
        "stepsSpin",
        "cfgSpin",
        "seedSpin",
        "seedLockButton",
        "modelPicker",
    ):
        assert panel.findChild(object, name) is not None, name
    assert panel.strength_slider.minimum() == 0 and panel.strength_slider.maximum() == 100
    assert panel.strength_spin.singleStep() == pytest.approx(0.01)
    assert panel.strength_spin.maximum() == 1.0
    combo = panel.scheduler_combo
    assert [combo.itemText(i) for i in range(combo.count())] == list(SCHEDULER_NAMES)


def test_slider_spin_and_steps_label_stay_in_sync(panel):
    panel.steps_spin.setValue(30)
    panel.strength_slider.setValue(40)
    assert panel.strength_spin.value() == pytest.approx(0.40)
    assert panel.state.strength == pytest.approx(0.40)
    assert panel.steps_label.text() == "12 of 30 steps will run"

    panel.strength_spin.setValue(0.75)
    assert panel.strength_slider.value() == 75
    assert panel.steps_label.text() == "22 of 30 steps will run"

    panel.steps_spin.setValue(20)
    assert panel.steps_label.text() == "15 of 20 steps will run"

    panel.strength_spin.setValue(0.0)
    assert panel.strength_slider.value() == 0
    assert panel.steps_label.text().startswith("0 of 20 steps will run")


def test_keyboard_on_the_slider_updates_the_spin(panel, qtbot):
    panel.strength_slider.setValue(50)
    panel.strength_slider.setFocus()
    QTest.keyClick(panel.strength_slider, Qt.Key.Key_Right)
    assert panel.strength_spin.value() == pytest.approx(0.51)


def test_state_changes_update_every_bound_widget(panel):
    panel.state.update(strength=0.33, steps=50, cfg=4.5, scheduler="Euler a", prompt="a cat")
    assert panel.strength_slider.value() == 33
    assert panel.strength_spin.value() == pytest.approx(0.33)
    assert panel.steps_spin.value() == 50
    assert panel.cfg_spin.value() == pytest.approx(4.5)
    assert panel.scheduler_combo.currentText() == "Euler a"
    assert panel.prompt_edit.toPlainText() == "a cat"
    assert panel.steps_label.text() == "16 of 50 steps will run"


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_presets_set_the_slider_and_explain_their_range(panel, qtbot, preset):
    button = panel.preset_buttons[preset.name]
    assert isinstance(button, QPushButton)
    assert f"{preset.low:.2f}–{preset.high:.2f}" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert panel.strength_slider.value() == round(preset.strength * 100)
    assert panel.strength_spin.value() == pytest.approx(preset.strength)
    assert button.isChecked()
    assert sum(b.isChecked() for b in panel.preset_buttons.values()) == 1


def test_typing_in_the_prompt_keeps_the_cursor(panel, qtbot):
    panel.prompt_edit.setFocus()
    QTest.keyClicks(panel.prompt_edit, "a red fox")
    assert panel.state.prompt == "a red fox"
    cursor = panel.prompt_edit.textCursor()
    cursor.setPosition(2)
    panel.prompt_edit.setTextCursor(cursor)
    QTest.keyClicks(panel.prompt_edit, "big ")
    assert panel.state.prompt == "a big red fox"
    assert panel.prompt_edit.textCursor().position() == 6
    panel.prompt_edit.moveCursor(QTextCursor.MoveOperation.End)


def test_unlocked_seed_changes_each_pass_and_locked_seed_repeats(panel, qtbot):
    panel.seed_lock_button.setChecked(False)
    seeds = {panel.seed_for_next_pass() for _ in range(5)}
    assert len(seeds) > 1
    assert panel.seed_spin.text() == "random"  # unlocked: the field says so, not a stale number

    qtbot.mouseClick(panel.seed_lock_button, Qt.MouseButton.LeftButton)
    assert panel.state.seed_locked
    assert int(panel.seed_spin.value()) == panel.state.seed  # locking keeps the last seed drawn
    panel.seed_spin.setValue(1234)
    assert [panel.seed_for_next_pass() for _ in range(3)] == [1234] * 3

    qtbot.mouseClick(panel.new_seed_button, Qt.MouseButton.LeftButton)
    assert panel.state.seed == int(panel.seed_spin.value()) and panel.state.seed_locked


def test_typing_a_seed_locks_it_and_random_unlocks(panel, qtbot):
    """Typed 42 must run 42 (it was thrown away unless Lock was pressed)."""
    panel.state.seed_locked = False
    assert panel.seed_spin.text() == "random" and panel.seed_lock_button.text() == "Lock"
    panel.seed_spin.setFocus()
    panel.seed_spin.selectAll()
    QTest.keyClicks(panel.seed_spin, "42")
    assert panel.state.seed_locked and panel.seed_lock_button.isChecked()
    assert panel.seed_lock_button.text() == "Locked"
    assert [panel.seed_for_next_pass() for _ in range(2)] == [42, 42]

    panel.seed_spin.setValue(panel.seed_spin.minimum())  # stepping down to "random"
    assert not panel.state.seed_locked and panel.seed_spin.text() == "random"
    assert len({panel.seed_for_next_pass() for _ in range(5)}) > 1  # drawn each time
    assert panel.seed_spin.text() == "random"  # the drawn seeds are not shown as if typed


def test_seed_covers_the_full_32_bit_range(panel):
    panel.seed_spin.setValue(MAX_SEED)
    assert panel.state.seed == MAX_SEED == 2**32 - 1 and panel.state.seed_locked
    panel.state.seed = 3_000_000_000
    assert int(panel.seed_spin.value()) == 3_000_000_000
    assert _request(panel).seed == 3_000_000_000


def test_set_params_restores_parsed_png_metadata(panel):
    parsed = {
        "prompt": "castle, oil painting",
        "negative_prompt": "blurry",
        "steps": 25,
        "sampler": "Euler a",
        "cfg": 5.5,
        "seed": 987654321,
        "strength": 0.45,
        "width": 512,
        "height": 512,
        "unknown": "ignored",
    }
    panel.set_params(parsed)
    request = _request(panel)
    assert request.prompt == "castle, oil painting"
    assert request.negative_prompt == "blurry"
    assert (request.steps, request.scheduler, request.cfg) == (25, "Euler a", 5.5)
    assert (request.seed, request.strength) == (987654321, 0.45)
    assert panel.prompt_edit.toPlainText() == "castle, oil painting"
    assert panel.strength_slider.value() == 45


def test_set_params_skips_bad_values(panel):
    panel.set_params({"scheduler": "Nope", "steps": "many", "seed": -5, "strength": 3})
    request = _request(panel)
    assert request.scheduler == SCHEDULER_NAMES[SCHEDULER_NAMES.index("DPM++ 2M")]
    assert request.steps == 30
    assert request.strength == 1.0
    assert request.seed == 0


def test_mask_options_follow_mask_presence(panel):
    assert not panel.mask_group.isVisible()
    panel.set_mask_present(True)
    assert panel.mask_group.isVisible()
    assert not panel.padding_spin.isEnabled()
    panel.masked_radio.setChecked(True)
    assert panel.state.inpaint_area == "masked"
    assert panel.padding_spin.isEnabled()
    panel.state.inpaint_area = "whole"
    assert panel.whole_radio.isChecked()
    assert _request(panel).inpaint_area == "whole"


def test_model_picker_binds_to_the_state(panel):
    panel.model_picker.combo.setEditText("  runwayml/stable-diffusion-v1-5 ")
    assert panel.state.model == "runwayml/stable-diffusion-v1-5"
    panel.model_picker.set_recent(["/models/a", "/models/b"])
    assert panel.model_picker.combo.count() == 2
    assert panel.state.model == "runwayml/stable-diffusion-v1-5"
    panel.model_picker.combo.setCurrentIndex(1)
    assert panel.state.model == "/models/b"
    panel.state.model_config = "/configs/sd15"
    assert panel.model_picker.config_edit.text() == "/configs/sd15"


def test_bind_returns_an_unbind_and_ignores_dead_widgets(qtbot):
    from PySide6.QtWidgets import QSpinBox

    state = GenerationParams()
    spin = QSpinBox()
    spin.setRange(0, 100)
    qtbot.addWidget(spin)
    unbind = bind(state, "steps", spin)
    assert spin.value() == 30
    spin.setValue(12)
    assert state.steps == 12
    unbind()
    spin.setValue(40)
    assert state.steps == 12
    state.steps = 5
    assert spin.value() == 40
