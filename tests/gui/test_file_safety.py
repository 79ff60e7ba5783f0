"""Files the GUI writes (settings, Save as PNG, Export all passes, the contact sheet) are written
atomically: a full disk or a failed write shows one line naming the file, keeps the previous file
byte-identical and leaves no temporary file. Nothing is replaced without asking."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.history import PassTree
from core.metadata import read_metadata
from gui.window.file_actions import FileActions
from gui.window.settings import Settings
from tests.faults import DISK_FULL, fsync_fails, snapshot, temp_files, writes_fail_half_way
from tests.tiny_models.images import make_image

PARAMS = {"prompt": "a harbour", "steps": 10, "cfg": 7.0, "seed": 3, "strength": 0.5}


@pytest.fixture
def files(qtbot, tmp_path):
    """FileActions over a tree with the original and one pass; records what it reports."""
    parent = QWidget()
    qtbot.addWidget(parent)
    tree = PassTree()
    tree.set_root(make_image(32, 24))
    tree.add("root", make_image(32, 24, seed=4), dict(PARAMS))
    actions = FileActions(parent, tree, Settings(path=tmp_path / "settings.json"), lambda: None)
    actions.errors, actions.asked = [], []
    actions.error.connect(actions.errors.append)
    return actions


@pytest.fixture
def answer(monkeypatch, files):
    """Every question box answers ``answer.reply`` (Yes unless changed) and is recorded."""

    class Answer:
        reply = QMessageBox.StandardButton.Yes

    def exec_(box):
        files.asked.append(box.text())
        return Answer.reply

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return Answer


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [fsync_fails, writes_fail_half_way])
def test_settings_that_cannot_be_saved_keep_the_previous_file(tmp_path, fault):
    path = tmp_path / "config" / "settings.json"
    settings = Settings(path=path, last_folder="/first")
    assert settings.save() is None
    before = path.read_bytes()
    settings.last_folder = "/second"
    with fault():
        message = settings.save()
    assert message == f"settings not saved: cannot write {path}: {DISK_FULL}"
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []
    assert Settings.load(path).last_folder == "/first"


# -- save as PNG --------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [fsync_fails, writes_fail_half_way])
@pytest.mark.parametrize("which", ["root", "pass"])
def test_save_on_a_full_disk_keeps_the_previous_file(files, tmp_path, fault, which):
    record = files._tree.root if which == "root" else files._tree.records()[1]
    path = tmp_path / "saved.png"
    assert files.save(record, path)
    before = path.read_bytes()
    with fault():
        assert not files.save(record, path)
    assert files.errors == [f"cannot write {path}: {DISK_FULL}"]
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_save_as_asks_before_replacing_a_file_the_dialog_did_not_name(
    files, tmp_path, monkeypatch, answer
):
    existing = tmp_path / "result.png"
    existing.write_bytes(b"keep me")
    typed = str(tmp_path / "result")  # the dialog confirmed "result"; ".png" is added after it
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (typed, ""))
    answer.reply = QMessageBox.StandardButton.No
    files.save_dialog()
    assert len(files.asked) == 1 and "result.png already exists" in files.asked[0]
    assert existing.read_bytes() == b"keep me"
    answer.reply = QMessageBox.StandardButton.Yes
    files.save_dialog()
    assert read_metadata(existing)["record"] is None  # the original, replaced after a Yes


# -- export all passes --------------------------------------------------------------------------


def test_export_never_replaces_files_silently(files, tmp_path, monkeypatch, answer):
    folder = tmp_path / "export"
    assert files.export_all(folder) == folder / "index.json"
    before = snapshot(folder)
    assert files.export_all(folder) is None  # called without asking: refused, nothing written
    assert files.errors == [f"Export stopped: {folder / '000-original.png'} already exists"]
    assert snapshot(folder) == before

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    answer.reply = QMessageBox.StandardButton.No
    files.export_dialog()
    assert len(files.asked) == 1 and "3 file(s)" in files.asked[0]
    assert snapshot(folder) == before
    answer.reply = QMessageBox.StandardButton.Yes
    files._tree.add("root", make_image(32, 24, seed=8), dict(PARAMS, seed=8))
    files.export_dialog()
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert len(index["passes"]) == 3 and len(files.asked) == 2


@pytest.mark.parametrize("fault", [fsync_fails, writes_fail_half_way])
def test_export_on_a_full_disk_keeps_the_previous_export(files, tmp_path, fault):
    folder = tmp_path / "export"
    files.export_all(folder)
    before = snapshot(folder)
    with fault():
        assert files.export_all(folder, overwrite=True) is None
    message = files.errors[-1]
    assert message == f"Export failed: cannot write {folder / '000-original.png'}: {DISK_FULL}"
    assert snapshot(folder) == before
    assert temp_files(tmp_path) == []


# -- contact sheet ----------------------------------------------------------------------------


def test_a_contact_sheet_that_cannot_be_saved_keeps_the_previous_file(qtbot, tmp_path, monkeypatch):
    from gui.history.contact_sheet import ContactSheetWindow

    sheet = ContactSheetWindow(steps=10)
    qtbot.addWidget(sheet)
    sheet.set_grid([0.3, 0.6], [1])
    sheet.set_cell(0, 0, "r00", make_image(32, 24))
    path = tmp_path / "sheet.png"
    sheet.save_sheet(str(path))
    before = path.read_bytes()
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box) or 0)
    monkeypatch.setattr(sheet, "choose_sheet_path", lambda: str(path))
    with fsync_fails():
        sheet.save_button.click()
    assert [box.text() for box in shown] == [f"cannot write {path}: {DISK_FULL}"]
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []
