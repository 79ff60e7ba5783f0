"""Edit references in the window: added from a file, a history card or the canvas picture,
kept in order in the Control panel's state and sent as ``PassRequest.edit_references``; one
undo step each; kept with their pictures in projects and autosaves, as lost pictures from a
PNG's record; old projects open without them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from core.metadata import write_png
from core.project import load_project, save_project
from gui.document.session_file import capture, restore
from gui.params.edit_references import EditReferenceEntry
from tests.gui.session_helpers import TIMEOUT, generate, pixels
from tests.tiny_models.images import make_image

BEFORE_DOCUMENT = Path(__file__).parents[1] / "data" / "projects" / "before-document.i2i"


def _recording(fake_engine) -> list:
    seen = []
    run_pass = fake_engine.run_pass

    def recording_run_pass(request, spec, on_event=None, cancel=None):
        seen.append(request)
        return run_pass(request, spec, on_event, cancel)

    fake_engine.run_pass = recording_run_pass
    return seen


def test_references_from_a_file_a_card_and_the_canvas_reach_the_request_in_order(
    fake_window, fake_engine, qtbot, tmp_path
):
    window = fake_window
    section = window.control_panel.edit_references
    seen = _recording(fake_engine)
    card = generate(qtbot, window)  # a pass to take a card's picture from
    picture = tmp_path / "coat.png"
    make_image(40, 32, seed=7).save(picture)

    assert section.add_file(str(picture))
    window.history.select(card.id)
    window.history.edit_reference_action.trigger()  # the card's "Use as edit reference"
    assert section.add_canvas_picture()
    entries = window.state.conditioning.edit_references
    root = window.tree.get("root")
    assert [entry.image_name for entry in entries] == ["coat.png", card.name, root.name]
    assert [row.title.text() for row in section.rows] == ["Image 2", "Image 3", "Image 4"]
    assert "coat.png (40×32)" in section.rows[0].label.text()

    seen.clear()
    generate(qtbot, window)
    (request,) = seen
    assert [pixels(image) for image in request.edit_references] == [
        pixels(make_image(40, 32, seed=7)),
        pixels(card.image),
        pixels(window.tree.get("root").image),
    ]


def test_each_edit_is_one_undo_step(fake_window, tmp_path):
    window = fake_window
    section, state = window.control_panel.edit_references, window.state.conditioning
    for seed in (1, 2):
        make_image(24, 24, seed=seed).save(tmp_path / f"{seed}.png")
    start = window.undo_stack.count()
    assert section.add_file(str(tmp_path / "1.png"))
    assert section.add_file(str(tmp_path / "2.png"))
    section.rows[0].remove.click()
    assert [e.image_name for e in state.edit_references] == ["2.png"]
    assert window.undo_stack.count() == start + 3
    window.undo_stack.undo()
    assert [e.image_name for e in state.edit_references] == ["1.png", "2.png"]
    assert len(section.rows) == 2
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert state.edit_references == () and section.rows == []
    window.undo_stack.redo()
    assert [e.image_name for e in state.edit_references] == ["1.png"]


def test_a_file_that_is_not_a_picture_says_why_and_adds_nothing(fake_window, tmp_path):
    window = fake_window
    section = window.control_panel.edit_references
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    start = window.undo_stack.count()
    assert not section.add_file(str(bad))
    assert window.state.conditioning.edit_references == ()
    assert window.undo_stack.count() == start
    assert "notes.png" in section.notice.text() and "\n" not in section.notice.text()


def test_references_and_their_pictures_round_trip_through_a_project_and_an_autosave(
    fake_window, qtbot, tmp_path
):
    window = fake_window
    section, state = window.control_panel.edit_references, window.state.conditioning
    for seed in (3, 4):
        make_image(40, 24 + seed, seed=seed).save(tmp_path / f"ref{seed}.png")
        assert section.add_file(str(tmp_path / f"ref{seed}.png"))
    before = state.edit_references

    path = save_project(tmp_path / "work.i2i", capture(window.document))
    with zipfile.ZipFile(path) as archive:
        index = json.loads(archive.read("project.json"))
        assert index["ui_images"] == {
            "edit-reference-0": "ui_images/edit-reference-0.png",
            "edit-reference-1": "ui_images/edit-reference-1.png",
        }
    section.remove(0)
    restore(window.document, load_project(path), path)
    assert state.edit_references == before
    assert [pixels(e.image) for e in state.edit_references] == [
        pixels(make_image(40, 27, seed=3)),
        pixels(make_image(40, 28, seed=4)),
    ]
    assert [e.image_name for e in state.edit_references] == ["ref3.png", "ref4.png"]
    assert len(section.rows) == 2

    # The autosave (written off the GUI thread) keeps them too.
    autosaver = window.autosaver
    qtbot.waitUntil(lambda: autosaver.idle, timeout=TIMEOUT)
    with qtbot.waitSignal(autosaver.saved, timeout=TIMEOUT):
        autosaver.save_now()
    session = load_project(autosaver.store.path)
    assert sorted(session.ui_images) == ["edit-reference-0", "edit-reference-1"]
    state.edit_references = ()
    restore(window.document, session, None, clean=False)
    assert [pixels(e.image) for e in state.edit_references] == [pixels(e.image) for e in before]


def test_a_project_from_before_edit_references_opens_without_them(fake_window):
    window = fake_window
    window.state.conditioning.edit_references = (EditReferenceEntry(make_image(8, 8), "x"),)
    assert window.open_project(BEFORE_DOCUMENT)
    assert window.state.conditioning.edit_references == ()
    assert window.control_panel.edit_references.rows == []
    request, _ = window.runner.build_request()
    assert request.edit_references == ()


def test_a_png_record_brings_them_back_as_lost_pictures(fake_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window = fake_window
    record = {
        "prompt": "put the coat of image 2 on her",
        "seed": 3,
        "edit_references": [{"hash": "ab", "width": 40, "height": 32}] * 2,
    }
    path = write_png(tmp_path / "edited.png", make_image(96, 64, seed=5), record)
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: QMessageBox.StandardButton.Yes)
    assert window.files.open_path(path, offer_parameters=True)
    state, section = window.state.conditioning, window.control_panel.edit_references
    assert state.edit_references == (EditReferenceEntry(None, "", True),) * 2
    assert "not in the metadata" in section.rows[1].label.text()
    assert not window.generate()
    assert "edit reference 1 has no picture" in window.error_label.text()
