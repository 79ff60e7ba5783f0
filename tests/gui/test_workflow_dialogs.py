"""Workflow settings dialogs: strength parsing, validation with reasons, step counts, settings."""

from __future__ import annotations

import pytest

from core.workflows.sweep import DEFAULT_STRENGTHS
from core.workflows.upscale import UPSCALE_STRENGTH, tile_layout
from gui.window.workflow_dialogs import (
    MultipassDialog,
    SweepDialog,
    UpscaleDialog,
    VariationsDialog,
)
from gui.window.workflow_settings import (
    MultipassSettings,
    SweepSettings,
    UpscaleSettings,
    VariationsSettings,
    parse_strengths,
    steps_text,
)


def _dialog(qtbot, cls, *args, **kwargs):
    dialog = cls(*args, **kwargs)
    qtbot.addWidget(dialog)
    return dialog


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.7, 0.4, 0.2", [0.7, 0.4, 0.2]),
        ("0.7,0.4 0.2", [0.7, 0.4, 0.2]),
        ("  0.5  ", [0.5]),
        ("1, 0", [1.0, 0.0]),
        ("0.3,,0.3 ,", [0.3, 0.3]),
    ],
)
def test_parse_strengths_accepts_commas_and_spaces(text, expected):
    assert parse_strengths(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("0.7, abc", "not a number"),
        ("1.2", "outside 0–1"),
        ("-0.1", "outside 0–1"),
        ("nan", "outside 0–1"),
    ],
)
def test_parse_strengths_refuses_bad_input_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_strengths(text)


def test_steps_text():
    assert steps_text(0.7, 30) == "0.70 → 21 steps"
    assert steps_text(0.05, 30) == "0.05 → 1 step"


# -- multi-pass ----------------------------------------------------------------------------------


def test_multipass_defaults_preview_and_settings(qtbot):
    dialog = _dialog(qtbot, MultipassDialog, 30, 0.5)
    assert dialog.objectName() == "multipassDialog"
    assert dialog.schedule_edit.objectName() == "scheduleEdit"
    assert dialog.schedule_edit.text() == "0.7, 0.4, 0.2"
    assert dialog.color_match_check.isChecked()
    preview = dialog.preview_label.text()
    for piece in ("0.70 → 21 steps", "0.40 → 12 steps", "0.20 → 6 steps"):
        assert piece in preview
    assert dialog.ok_button.isEnabled()
    assert dialog.reason() == ""
    assert dialog.settings() == MultipassSettings((0.7, 0.4, 0.2), True)
    dialog.color_match_check.setChecked(False)
    assert dialog.settings().color_match is False


def test_multipass_preset_buttons_fill_the_schedule(qtbot):
    dialog = _dialog(qtbot, MultipassDialog, 30, 0.5)
    dialog.schedule_edit.setText("0.9")
    gentle = dialog.preset_buttons["Gentle"]
    assert gentle.text() == "Gentle 0.3 → 0.3 → 0.2"
    gentle.click()
    assert dialog.schedule_edit.text() == "0.3, 0.3, 0.2"
    assert dialog.settings().strengths == (0.3, 0.3, 0.2)  # repeats are fine in a schedule
    assert dialog.is_valid()
    progressive = dialog.preset_buttons["Progressive"]
    assert progressive.text() == "Progressive 0.7 → 0.4 → 0.2"
    progressive.click()
    assert dialog.settings().strengths == (0.7, 0.4, 0.2)


@pytest.mark.parametrize(
    ("text", "steps", "reason"),
    [
        ("0.7, 1.5", 30, "outside 0–1"),
        ("0.7, x", 30, "not a number"),
        ("", 30, "at least one"),
        ("0.7, 0.02", 30, "runs 0 of 30 steps"),
        ("0.2", 4, "runs 0 of 4 steps"),
    ],
)
def test_multipass_invalid_schedule_disables_ok_with_a_reason(qtbot, text, steps, reason):
    dialog = _dialog(qtbot, MultipassDialog, steps, 0.5)
    dialog.schedule_edit.setText(text)
    assert not dialog.ok_button.isEnabled()
    assert reason in dialog.reason_label.text()
    assert not dialog.reason_label.isHidden()
    dialog.accept()  # refused while invalid
    assert dialog.result() != MultipassDialog.DialogCode.Accepted
    dialog.schedule_edit.setText("0.7, 0.4")
    assert dialog.ok_button.isEnabled()
    assert dialog.reason_label.isHidden()


# -- sweep ---------------------------------------------------------------------------------------


def test_sweep_defaults_total_and_settings(qtbot):
    dialog = _dialog(qtbot, SweepDialog, 30, 0.5)
    assert dialog.objectName() == "sweepDialog"
    assert dialog.strengths_edit.objectName() == "sweepStrengthsEdit"
    assert dialog.strengths_edit.text() == "0.3, 0.4, 0.5, 0.6, 0.7"
    assert parse_strengths(dialog.strengths_edit.text()) == list(DEFAULT_STRENGTHS)
    assert dialog.seeds_spin.objectName() == "sweepSeedsSpin"
    assert (dialog.seeds_spin.minimum(), dialog.seeds_spin.maximum()) == (1, 8)
    assert "= 5 images" in dialog.total_label.text()
    assert "0.30 → 9 steps" in dialog.preview_label.text()
    dialog.seeds_spin.setValue(3)
    assert dialog.total_label.text() == "5 strengths × 3 seeds = 15 images"
    assert dialog.settings() == SweepSettings(DEFAULT_STRENGTHS, 3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0.3, 0.5, 0.30", "0.30 is listed twice"),
        ("0.301, 0.299", "0.30 is listed twice"),
        ("0.3, 2", "outside 0–1"),
        ("0.01, 0.5", "runs 0 of 30 steps"),
        ("", "at least one"),
    ],
)
def test_sweep_invalid_values_disable_ok(qtbot, text, reason):
    dialog = _dialog(qtbot, SweepDialog, 30, 0.5)
    dialog.strengths_edit.setText(text)
    assert not dialog.ok_button.isEnabled()
    assert reason in dialog.reason()


# -- variations ----------------------------------------------------------------------------------


def test_variations_shows_strength_and_steps(qtbot):
    dialog = _dialog(qtbot, VariationsDialog, 30, 0.55)
    assert dialog.objectName() == "variationsDialog"
    spin = dialog.count_spin
    assert spin.objectName() == "variationsCountSpin"
    assert (spin.minimum(), spin.maximum(), spin.value()) == (2, 16, 4)
    assert "0.55 → 16 steps" in dialog.strength_label.text()
    assert dialog.ok_button.isEnabled()
    spin.setValue(6)
    assert dialog.settings() == VariationsSettings(6)


def test_variations_refuses_a_strength_that_runs_no_steps(qtbot):
    dialog = _dialog(qtbot, VariationsDialog, 10, 0.05)
    assert not dialog.ok_button.isEnabled()
    assert "runs 0 of 10 steps" in dialog.reason()


# -- upscale -------------------------------------------------------------------------------------


def test_upscale_defaults_and_output_text(qtbot):
    dialog = _dialog(qtbot, UpscaleDialog, 30, 0.6, (1024, 1024))
    assert dialog.objectName() == "upscaleDialog"
    assert [dialog.scale_combo.itemText(i) for i in range(3)] == ["1.5×", "2×", "4×"]
    assert dialog.scale_combo.currentText() == "2×"
    assert dialog.strength_spin.value() == pytest.approx(UPSCALE_STRENGTH)
    assert (dialog.tile_spin.minimum(), dialog.tile_spin.maximum()) == (256, 1024)
    assert dialog.tile_spin.singleStep() == 64
    assert (dialog.overlap_spin.minimum(), dialog.overlap_spin.maximum()) == (0, 256)
    assert dialog.overlap_spin.singleStep() == 8
    assert dialog.output_label.text() == "1024 × 1024 → 2048 × 2048, 25 tiles"
    assert "0.35 → 10 steps" in dialog.steps_label.text()
    assert dialog.ok_button.isEnabled()
    assert dialog.settings() == UpscaleSettings(2.0, 0.35, 512, 64)


def test_upscale_tile_count_matches_the_engine_layout(qtbot):
    dialog = _dialog(qtbot, UpscaleDialog, 30, 0.5, (512, 512))
    dialog.scale_combo.setCurrentIndex(2)  # 4×
    dialog.tile_spin.setValue(512)
    dialog.overlap_spin.setValue(64)
    expected = len(tile_layout((2048, 2048), 512, 64))
    assert dialog.tile_count() == expected
    assert f"{expected} tiles" in dialog.output_label.text()
    assert dialog.settings().scale == 4.0


def test_upscale_pads_odd_sizes_like_the_engine(qtbot):
    dialog = _dialog(qtbot, UpscaleDialog, 30, 0.5, (333, 250))
    dialog.scale_combo.setCurrentIndex(0)  # 1.5× → 500 × 375, padded to 504 × 376
    assert dialog.output_size() == (500, 375)
    assert dialog.tile_count() == len(tile_layout((504, 376), 512, 64))


def test_upscale_refuses_a_large_overlap_and_a_huge_output(qtbot):
    dialog = _dialog(qtbot, UpscaleDialog, 30, 0.5, (1024, 1024))
    dialog.tile_spin.setValue(256)
    dialog.overlap_spin.setValue(136)
    assert not dialog.ok_button.isEnabled()
    assert "overlap must be between 0 and half the tile (128)" in dialog.reason()
    dialog.overlap_spin.setValue(64)
    assert dialog.ok_button.isEnabled()

    big = _dialog(qtbot, UpscaleDialog, 30, 0.5, (4000, 4000))
    assert not big.ok_button.isEnabled()  # 2× = 64 MP
    assert "MP limit" in big.reason()
    assert big.tile_count() == 0


def test_upscale_strength_zero_is_a_plain_upscale(qtbot):
    dialog = _dialog(qtbot, UpscaleDialog, 30, 0.5, (256, 256))
    dialog.strength_spin.setValue(0.0)
    assert dialog.ok_button.isEnabled()
    assert "plain" in dialog.steps_label.text()
    assert dialog.output_label.text() == "256 × 256 → 512 × 512, plain upscale"


def test_ask_returns_settings_on_ok_and_none_on_cancel(qtbot, monkeypatch):
    from PySide6.QtWidgets import QDialog

    monkeypatch.setattr(SweepDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    assert SweepDialog.ask(None, 30, 0.5) == SweepSettings(DEFAULT_STRENGTHS, 1)
    monkeypatch.setattr(UpscaleDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    assert UpscaleDialog.ask(None, 30, 0.5, (512, 512)) is None
