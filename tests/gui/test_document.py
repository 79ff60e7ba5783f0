"""The document: the session's one home, plain Python (only the last test opens a window).

It holds the tree, parameters, regions, masks, the record on screen, the project and the unsaved
flag; capture/restore round-trip all of it; one observation mechanism reports every change; and a
project written before the document existed still opens in the window.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.conditioning.specs import LoraSpec
from core.errors import ProjectError
from core.history import TreeChange, TreeEvent
from core.project import Session, load_project, save_project
from gui.document.document import NO_REGION_MASK, REGION_BEING_EDITED, TOO_MANY_REGIONS, Document
from gui.document.session_file import capture, restore
from tests.tiny_models.images import make_image, make_mask

BEFORE_DOCUMENT = Path(__file__).parents[1] / "data" / "projects" / "before-document.i2i"


def pixels(image: Image.Image | None) -> bytes | None:
    return None if image is None else image.tobytes()


def _document_with_work() -> Document:
    document = Document()
    document.start(make_image(96, 64), "Original", "photo.png")
    root = document.tree.root_id
    assert root is not None
    document.mask = make_mask(96, 64, box=(0, 0, 40, 64))
    assert document.add_region_from_mask() is None
    document.set_region_text(0, " a blue sky ", "fog")
    document.mask = make_mask(96, 64, box=(50, 0, 96, 30))
    assert document.add_region_from_mask() is None  # a second region, no prompt
    record = document.tree.add(root, make_image(96, 64, 3), {"strength": 0.4, "seed": 9})
    document.show(record.id)
    document.mask = make_mask(96, 64, box=(10, 10, 60, 50))
    document.strength_map = Image.new("L", (96, 64), 128)
    document.params.update(prompt="a harbour", strength=0.35, seed=1234, seed_locked=True)
    document.params.conditioning.loras = (LoraSpec("/loras/ink.safetensors", 0.7),)
    return document


def test_the_document_holds_the_session_without_qt():
    document = _document_with_work()
    assert document.tree.root is not None and len(document.tree) == 2
    assert document.shown_record() is not None and document.shown_record().params["seed"] == 9
    assert document.tree.current_id == document.tree.root_id  # showing is not choosing the input
    assert [r.prompt for r in document.pass_regions()] == ["a blue sky"]  # stripped, no empty
    assert len(document.regions) == 2
    assert document.name == "photo.png" and document.project_path is None
    assert document.unsaved  # a pass was added


def test_the_document_loads_without_qt():
    code = (
        "import sys, gui.document.session_file, gui.document.document; "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))]"
    )
    root = Path(__file__).parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)


def test_capture_and_restore_round_trip_everything(tmp_path):
    document = _document_with_work()
    document.project_path = tmp_path / "work.i2i"
    path = save_project(tmp_path / "copy.i2i", capture(document, autosave=True))
    session = load_project(path)

    other = Document()
    replaced: list[Document] = []
    other.replaced.subscribe(replaced.append)
    restore(other, session, tmp_path / "work.i2i", clean=False)
    assert replaced == [other]  # one notification for the whole session
    assert [r.id for r in other.tree.records()] == [r.id for r in document.tree.records()]
    assert other.shown_id == document.shown_id and other.tree.current_id == "root"
    assert pixels(other.mask) == pixels(document.mask)
    assert pixels(other.strength_map) == pixels(document.strength_map)
    assert [(pixels(r.mask), r.prompt, r.negative) for r in other.regions] == [
        (pixels(r.mask), r.prompt, r.negative) for r in document.regions
    ]
    assert (other.params.prompt, other.params.seed, other.params.seed_locked) == (
        "a harbour",
        1234,
        True,
    )
    assert other.params.conditioning.loras == document.params.conditioning.loras
    assert other.name == "photo.png" and other.project_path == tmp_path / "work.i2i"
    assert other.unsaved  # a recovered autosave is unsaved work
    assert capture(document, autosave=True).ui["project_path"] == str(tmp_path / "work.i2i")
    assert "project_path" not in capture(document).ui


def test_a_session_without_a_picture_changes_nothing():
    document = _document_with_work()
    before = [r.id for r in document.tree.records()], pixels(document.mask), document.regions
    replaced: list[Document] = []
    document.replaced.subscribe(replaced.append)
    with pytest.raises(ProjectError, match="no picture"):
        restore(document, Session(), None)
    assert ([r.id for r in document.tree.records()], pixels(document.mask), document.regions) == (
        before
    )
    assert replaced == []


def test_regions_are_edited_through_the_document():
    document = Document()
    document.start(make_image(64, 64))
    assert document.add_region_from_mask() == NO_REGION_MASK
    for index in range(8):
        document.mask = make_mask(64, 64, box=(index * 8, 0, index * 8 + 8, 64))
        assert document.add_region_from_mask() is None
        assert document.mask is None  # the mask became the region
    document.mask = make_mask(64, 64)
    assert document.add_region_from_mask() == TOO_MANY_REGIONS
    document.edit_region(5)
    assert document.add_region_from_mask() == REGION_BEING_EDITED
    fifth = document.regions[5]
    document.remove_region(2)  # a region before the edited one: the edit follows its region
    assert document.editing_region == 4 and document.regions[4] is fifth
    document.remove_region(4)  # the edited one: the edit ends
    assert document.editing_region is None and len(document.regions) == 6
    document.edit_region(99)  # no such region
    assert document.editing_region is None


def test_one_mechanism_reports_every_change_typed():
    document = Document()
    fields: list[tuple[str, object]] = []
    for name in ("shown_id", "mask", "regions", "unsaved", "project_path"):
        document.subscribe(name, lambda value, name=name: fields.append((name, value)))
    events: list[TreeEvent] = []
    document.tree.subscribe(events.append)
    params: list[float] = []
    document.params.subscribe("strength", params.append)

    document.start(make_image(32, 32))
    assert [e.kind for e in events] == [TreeChange.ADDED, TreeChange.SELECTED]
    assert all(isinstance(e, TreeEvent) for e in events)
    record = document.tree.add("root", make_image(32, 32, 2))
    assert events[-1] == TreeEvent(TreeChange.ADDED, record)
    assert ("unsaved", True) in fields
    mask = make_mask(32, 32)
    document.mask = mask
    document.mask = mask  # the same picture again: no notification
    assert [v for n, v in fields if n == "mask"] == [mask]
    document.params.strength = 0.8
    assert params == [0.8]
    with pytest.raises(AttributeError):
        document.subscribe("no_such_field", print)


def test_unsaved_follows_passes_the_input_and_edits():
    document = Document()
    document.start(make_image(32, 32))
    assert not document.unsaved
    record = document.tree.add("root", make_image(32, 32, 2))
    assert document.unsaved
    document.mark_clean()
    assert not document.unsaved
    document.tree.select(record.id)  # another input
    assert document.unsaved
    document.tree.select("root")  # back to the saved input
    assert not document.unsaved
    document.set_edited(True)  # the canvas's undo stack left its clean state
    assert document.unsaved
    document.set_edited(False)
    assert not document.unsaved


def test_deleting_the_shown_pass_shows_the_input():
    document = Document()
    document.start(make_image(32, 32))
    record = document.tree.add("root", make_image(32, 32, 2))
    document.show(record.id)
    document.tree.remove(record.id)
    assert document.shown_id == "root"


def test_a_project_written_before_the_document_opens_in_the_window(qtbot, fake_window):
    """tests/data/projects/before-document.i2i was saved by the window as it was before the
    document model (regions in the panel, the session read from the widgets)."""
    window = fake_window
    assert window.open_project(BEFORE_DOCUMENT)
    document = window.document
    assert [r.name for r in document.tree.records()] == ["Original", "Pass 1 · 0.55"]
    assert document.shown_id == "p1" and document.tree.current_id == "root"
    assert [(r.prompt, r.negative) for r in document.regions] == [
        ("a blue sky", "fog"),
        ("", "blur"),
    ]
    assert np.asarray(document.regions[0].mask)[:, :40].all()
    mask = np.asarray(document.mask)
    assert mask[30, 30] == 255 and mask[5, 5] == 0
    assert pixels(window.canvas.mask_image()) == pixels(document.mask)  # on the canvas too
    assert document.strength_map is not None and window.canvas.strength_map_image() is not None
    params = document.params
    assert (params.prompt, params.strength, params.seed, params.seed_locked) == (
        "a watercolour harbour",
        0.35,
        1234,
        True,
    )
    assert document.name == "photo.png" and document.project_path == BEFORE_DOCUMENT
    assert window.windowTitle().startswith("before-document[*]")
    assert not window.isWindowModified()
    rows = window.regions_panel.rows
    assert [(row.prompt.text(), row.negative.text()) for row in rows] == [
        ("a blue sky", "fog"),
        ("", "blur"),
    ]
    request, _ = window.runner.build_request()
    assert [r.prompt for r in request.regions] == ["a blue sky"]
    assert pixels(request.mask) == pixels(document.mask)
