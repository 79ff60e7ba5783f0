"""The batch dialog: folder checks, start/cancel intents, progress, log and summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.workflows.batch import BatchItem, BatchReport
from core.workflows.common import WorkflowProgress
from gui.run.progress_text import format_eta
from gui.window.batch_dialog import BatchDialog, BatchSettings
from tests.tiny_models.images import make_image


@pytest.fixture
def folders(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index, name in enumerate(("a.png", "b.jpg", "c.png")):
        make_image(32, 32, seed=index).save(inputs / name)
    (inputs / "notes.txt").write_text("not an image")
    return inputs, tmp_path / "out"


@pytest.fixture
def dialog(qtbot):
    widget = BatchDialog()
    yield widget
    # Not qtbot.addWidget: its teardown would close a running dialog, which asks modally.
    widget.set_running(False)
    widget.close()
    widget.deleteLater()


def _fill(dialog, inputs, output):
    dialog.input_edit.setText(str(inputs))
    dialog.output_edit.setText(str(output))


def _progress(index, status, label="", eta=None, message="", total=3):
    return WorkflowProgress("batch", index, total, status, label, 1.0, eta, message)


def test_empty_dialog_cannot_start(dialog):
    assert dialog.objectName() == "batchDialog"
    assert not dialog.isModal()
    assert not dialog.start_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()
    assert dialog.close_button.isEnabled()
    assert dialog.reason() == "choose an input folder"


def test_counts_the_images_of_the_input_folder(dialog, folders):
    inputs, output = folders
    dialog.input_edit.setText(str(inputs))
    assert dialog.image_count() == 3
    assert dialog.count_label.text() == "3 images in the input folder"
    assert dialog.reason() == "choose an output folder"
    dialog.output_edit.setText(str(output))
    assert dialog.reason() == ""
    assert dialog.start_button.isEnabled()


def test_bad_input_folder_shows_the_reason(dialog, tmp_path):
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.input_edit.setText(str(tmp_path / "missing"))
    assert "no such folder" in dialog.reason()
    assert not dialog.start_button.isEnabled()
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.input_edit.setText(str(empty))
    assert "no images" in dialog.reason()
    assert dialog.image_count() == 0
    assert not dialog.start_button.isEnabled()


def test_start_emits_the_settings(dialog, folders, qtbot):
    inputs, output = folders
    _fill(dialog, inputs, output)
    dialog.overwrite_check.setChecked(True)
    with qtbot.waitSignal(dialog.start_requested) as blocker:
        dialog.start_button.click()
    assert blocker.args == [BatchSettings(str(inputs), str(output), True, False)]


def test_output_equal_to_input_needs_in_place(dialog, folders, qtbot):
    inputs, _output = folders
    _fill(dialog, inputs, inputs)
    assert not dialog.start_button.isEnabled()
    assert "Allow writing into the input folder" in dialog.reason()
    with qtbot.assertNotEmitted(dialog.start_requested):
        dialog.start()
    dialog.in_place_check.setChecked(True)
    assert dialog.start_button.isEnabled()
    with qtbot.waitSignal(dialog.start_requested) as blocker:
        dialog.start()
    assert blocker.args[0].allow_in_place is True


def test_output_that_is_a_file_is_refused(dialog, folders):
    inputs, output = folders
    output.write_text("a file")
    _fill(dialog, inputs, output)
    assert "is a file" in dialog.reason()
    assert not dialog.start_button.isEnabled()


def test_running_locks_the_fields_and_enables_cancel(dialog, folders, qtbot):
    _fill(dialog, *folders)
    with qtbot.assertNotEmitted(dialog.cancel_requested):
        dialog.cancel_button.click()  # disabled while idle
    dialog.set_running(True)
    assert not dialog.start_button.isEnabled()
    assert not dialog.input_edit.isEnabled()
    assert not dialog.in_place_check.isEnabled()
    assert dialog.cancel_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.start_requested):
        dialog.start()
    with qtbot.waitSignal(dialog.cancel_requested):
        dialog.cancel_button.click()
    assert not dialog.cancel_button.isEnabled()  # asked once
    dialog.set_running(False)
    assert dialog.start_button.isEnabled()
    assert dialog.input_edit.isEnabled()
    assert not dialog.cancel_button.isEnabled()


def test_progress_updates_bar_and_log(dialog, folders):
    _fill(dialog, *folders)
    dialog.set_running(True)
    dialog.on_progress(_progress(1, "running", "a.png"))
    bar = dialog.progress_bar
    assert (bar.value(), bar.maximum()) == (0, 3)
    assert bar.format() == "1/3 · a.png"
    assert dialog.log.count() == 0
    dialog.on_progress(_progress(1, "done", "a.png", eta=130.4))
    dialog.on_progress(_progress(2, "running", "b.jpg", eta=130.4))
    assert bar.value() == 1
    assert bar.format() == "2/3 · b.jpg · ETA 2:10"
    dialog.on_progress(_progress(2, "skipped", "b.jpg", message="already done"))
    dialog.on_progress(_progress(3, "failed", "c.png", message="cannot read c.png"))
    assert bar.value() == 3
    lines = [dialog.log.item(i).text() for i in range(dialog.log.count())]
    assert lines == [
        "done: a.png",
        "skipped: b.jpg — already done",
        "failed: c.png — cannot read c.png",
    ]


def test_finished_shows_the_summary_and_warns_on_failures(dialog, folders):
    inputs, output = folders
    _fill(dialog, inputs, output)
    dialog.set_running(True)
    ok = BatchReport(total=3, elapsed=2.5)
    ok.done = [BatchItem(Path("a.png"), output / "a.png", "done")] * 2
    ok.skipped = [BatchItem(Path("b.png"), output / "b.png", "skipped", "already done")]
    dialog.on_finished(ok)
    assert dialog.summary_label.text() == ok.summary()
    assert dialog.summary_label.property("warning") is False
    assert dialog.progress_bar.value() == 3
    assert dialog.start_button.isEnabled()
    assert not dialog.cancel_button.isEnabled()

    dialog.set_running(True)
    assert dialog.summary_label.text() == ""  # a new run starts clean
    bad = BatchReport(total=3, elapsed=1.0)
    bad.failed = [BatchItem(Path("c.png"), output / "c.png", "failed", "broken")]
    dialog.on_finished(bad)
    assert "1 failed" in dialog.summary_label.text()
    assert dialog.summary_label.property("warning") is True
    assert dialog.summary_label.styleSheet()


def test_failed_run_shows_the_message(dialog, folders):
    _fill(dialog, *folders)
    dialog.set_running(True)
    dialog.on_failed("could not load the model")
    assert "could not load the model" in dialog.summary_label.text()
    assert dialog.summary_label.property("warning") is True
    assert dialog.start_button.isEnabled()


def test_closing_while_running_asks_to_cancel_first(dialog, folders, qtbot, monkeypatch):
    _fill(dialog, *folders)
    dialog.show()
    dialog.set_running(True)
    monkeypatch.setattr(dialog, "confirm_cancel", lambda: False)
    with qtbot.assertNotEmitted(dialog.cancel_requested):
        dialog.close()
    assert dialog.isVisible()
    monkeypatch.setattr(dialog, "confirm_cancel", lambda: True)
    with qtbot.waitSignal(dialog.cancel_requested):
        dialog.close()
    assert dialog.isVisible()  # stays until the batch has stopped
    dialog.on_finished(BatchReport(total=3, cancelled=True))
    assert not dialog.isVisible()


def test_closing_when_idle_just_closes(dialog, qtbot):
    dialog.show()
    with qtbot.assertNotEmitted(dialog.cancel_requested):
        dialog.close_button.click()
    assert not dialog.isVisible()


def test_format_eta():
    assert format_eta(None) == ""
    assert format_eta(5) == "0:05"
    assert format_eta(130.4) == "2:10"
    assert format_eta(3600) == "60:00"
