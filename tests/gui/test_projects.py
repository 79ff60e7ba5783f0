"""Project files in the window: passes keep their layers, save/open round trip, the unsaved
marker, Ctrl+S, asking on close, recent projects, errors in a one-line banner."""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest

from core.project import load_project
from gui.run.workflow_jobs import Variations
from gui.window import project_actions
from tests.gui.session_helpers import (
    TIMEOUT,
    drag,
    generate,
    pixels,
    tree_fields,
)
from tests.tiny_models.images import make_image, make_mask


def _paint_layers(win) -> None:
    win.canvas.set_mask_image(make_mask(96, 64))
    win.canvas.set_strength_value(0.6)
    drag(win.canvas, [(5, 5), (60, 40)], tool="strength")


def test_filed_passes_keep_their_mask_and_strength_map(qtbot, fake_window):
    window = fake_window
    _paint_layers(window)
    mask, strength = window.canvas.mask_image(), window.canvas.strength_map_image()
    assert strength is not None
    record = generate(qtbot, window)
    assert pixels(record.mask) == pixels(mask) and record.mask.mode == "L"
    assert pixels(record.strength_map) == pixels(strength)

    window.canvas.clear_mask()
    window.canvas.clear_strength_map()
    bare = generate(qtbot, window)
    assert bare.mask is None and bare.strength_map is None

    window.canvas.set_mask_image(make_mask(96, 64, box=(0, 0, 10, 10)))
    assert window.workflows.start(Variations(2))
    qtbot.waitUntil(lambda: not window.busy, timeout=TIMEOUT)
    variations = [r for r in window.tree.records() if r.group]
    assert len(variations) == 2
    for variation in variations:
        assert pixels(variation.mask) == pixels(window.canvas.mask_image())


def _build_session(qtbot, win):
    """Passes on two branches, a rename, a mask and a strength map, unusual parameters."""
    _paint_layers(win)
    first = generate(qtbot, win)
    second = generate(qtbot, win)
    win.tree.rename(first.id, "Kept « first »")
    win.continue_from(win.tree.root_id)
    generate(qtbot, win)  # a second branch from the original
    assert win.workflows.start(Variations(2))  # a group
    qtbot.waitUntil(lambda: not win.busy, timeout=TIMEOUT)
    win.continue_from(second.id)
    win.show_record(first.id)
    win.canvas.set_mask_image(make_mask(96, 64, box=(3, 4, 50, 30)))
    win.state.update(
        prompt="a <b>castle</b>",
        negative_prompt="blur",
        strength=0.35,
        steps=12,
        cfg=5.5,
        seed=1234,
        seed_locked=True,
        mask_blur=8,
        inpaint_area="masked",
        padding=16,
        work_size="input",
        device="cpu",
        dtype="fp32",
    )


def test_project_round_trip_restores_every_pixel_and_parameter(qtbot, fake_window, tmp_path):
    window = fake_window
    import main

    _build_session(qtbot, window)
    path = tmp_path / "castle.i2i"
    assert window.save_project(path)
    assert not window.isWindowModified()
    assert "castle" in window.windowTitle()

    other = main.build_window([str(path)])  # python main.py PROJECT.i2i
    qtbot.addWidget(other)
    other.show()
    assert other.project.path == path
    assert tree_fields(other.tree) == tree_fields(window.tree)
    assert other.tree.current_id == window.tree.current_id
    assert other.shown_record().id == window.shown_record().id
    assert pixels(other.canvas.image()) == pixels(window.canvas.image())
    assert pixels(other.canvas.mask_image()) == pixels(window.canvas.mask_image())
    assert pixels(other.canvas.strength_map_image()) == pixels(window.canvas.strength_map_image())
    assert other.state.as_dict() == window.state.as_dict()
    assert other.panel.strength_slider.value() == 35
    assert len(other.history._items) == len(window.tree)
    assert not other.isWindowModified()
    assert other.windowTitle() == "castle[*] — Img2Img Studio"
    grouped = [r for r in other.tree.records() if r.group]
    assert len(grouped) == 2 and grouped[0].group == grouped[1].group
    assert other.history.group_item(grouped[0].parent_id, grouped[0].group) is not None
    assert other.undo_stack.count() == 0
    other.close()


def test_unsaved_marker_follows_every_kind_of_edit(qtbot, fake_window, tmp_path):
    window = fake_window
    assert not window.isWindowModified()  # a freshly opened picture
    assert window.windowTitle() == "input.png[*] — Img2Img Studio"
    drag(window.canvas, [(10, 10), (40, 30)])
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert not window.isWindowModified()

    path = tmp_path / "work.i2i"
    edits = [
        lambda: generate(qtbot, window),
        lambda: window.tree.rename(window.tree.current_id, "renamed"),
        lambda: drag(window.canvas, [(10, 10), (40, 30)]),
        lambda: window.canvas.fill_strength_map(),
        lambda: window.continue_from(window.tree.children(window.tree.root_id)[0].id),
        lambda: window.tree.remove(window.tree.children(window.tree.root_id)[0].id),
    ]
    for edit in edits:
        assert window.save_project(path)
        assert not window.isWindowModified()
        assert window.windowTitle() == "work[*] — Img2Img Studio"
        edit()
        assert window.isWindowModified(), edit
    assert window.save_project(path)
    assert len(load_project(path).tree) == 1  # the pass was deleted


def test_ctrl_s_saves_the_project_only_while_one_is_open(qtbot, fake_window, tmp_path):
    window = fake_window
    ctrl_s = QKeySequence(QKeySequence.StandardKey.Save)

    def holders():
        actions = window.findChildren(QAction)
        return [a for a in actions if ctrl_s in a.shortcuts()]

    assert holders() == [window.files.save_action]  # "Save result as PNG…"
    assert window.project.save_action.shortcut().isEmpty()
    assert window.save_project(tmp_path / "p.i2i")
    assert holders() == [window.project.save_action]
    assert window.files.save_action.shortcut().isEmpty()

    window.canvas.fill_strength_map()
    assert window.isWindowModified()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.isWindowModified()
    assert pixels(load_project(tmp_path / "p.i2i").strength_map) == pixels(
        window.canvas.strength_map_image()
    )

    window.files.open_path(tmp_path / "input.png")  # a new picture: no project
    assert window.project.path is None
    assert holders() == [window.files.save_action]


def test_closing_with_unsaved_work_asks_save_discard_or_cancel(
    qtbot, fake_window, tmp_path, monkeypatch
):
    window = fake_window
    answers: list[str] = []
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: answers.pop(0))

    assert window.save_project(tmp_path / "p.i2i")
    generate(qtbot, window)
    answers.append("cancel")
    assert not window.close()
    assert window.isVisible() and not answers
    assert window.isWindowModified()

    answers.append("save")
    assert window.close()
    assert not answers
    assert len(load_project(tmp_path / "p.i2i").tree) == 2


def test_closing_unchanged_work_does_not_ask(qtbot, fake_window, monkeypatch):
    window = fake_window
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: 1 / 0)
    assert window.close()


def test_opening_a_project_over_unsaved_work_asks_first(qtbot, fake_window, tmp_path, monkeypatch):
    window = fake_window
    assert window.save_project(tmp_path / "a.i2i")
    generate(qtbot, window)
    before = tree_fields(window.tree)
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: "cancel")
    assert not window.open_project(tmp_path / "a.i2i")
    assert tree_fields(window.tree) == before
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: "discard")
    assert window.open_project(tmp_path / "a.i2i")
    assert len(window.tree) == 1 and not window.isWindowModified()


def _newer_schema(path, target):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "project.json":
                index = json.loads(data)
                index["schema_version"] = 99
                data = json.dumps(index).encode()
            dst.writestr(info, data)


def test_bad_and_newer_files_show_one_line_and_lose_nothing(qtbot, fake_window, tmp_path):
    window = fake_window
    good = tmp_path / "good.i2i"
    assert window.save_project(good)
    generate(qtbot, window)
    _paint_layers(window)
    before = tree_fields(window.tree), pixels(window.canvas.mask_image()), window.project.path

    broken = tmp_path / "broken.i2i"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    newer = tmp_path / "newer.i2i"
    _newer_schema(good, newer)
    assert not window.open_project(newer)
    assert "newer" in window.error_label.text()
    for bad in (broken, newer, tmp_path / "missing.i2i"):
        assert not window.open_project(bad)
        message = window.error_label.text()
        assert window.error_banner.isVisible() and message and "\n" not in message
        assert str(bad.name) in message
        assert (tree_fields(window.tree), pixels(window.canvas.mask_image())) == before[:2]
        assert window.project.path == before[2] and window.isWindowModified()

    target = tmp_path / "holiday.i2i"
    target.write_bytes(b"someone else's file")
    assert not window.save_project(target)
    assert "not overwritten" in window.error_label.text()
    assert target.read_bytes() == b"someone else's file"


def test_recent_projects_are_remembered_and_open(qtbot, fake_window, tmp_path):
    window = fake_window
    first, second = tmp_path / "first.i2i", tmp_path / "second.i2i"
    assert window.save_project(first)
    generate(qtbot, window)
    assert window.save_project(second)
    recent = window.settings.recent_projects
    assert recent[:2] == [str(second.resolve()), str(first.resolve())]
    assert len(recent) == len(set(recent))

    window.project.refresh_recent_menu()
    entries = [a for a in window.project.recent_menu.actions() if a.text().endswith(".i2i")]
    assert [a.text() for a in entries] == ["second.i2i", "first.i2i"]
    entries[1].trigger()
    assert window.project.path == first and len(window.tree) == 1
    assert window.settings.recent_projects[0] == str(first.resolve())


def test_opened_project_keeps_mask_arrays_exactly(qtbot, fake_window, tmp_path):
    window = fake_window
    drag(window.canvas, [(0, 0), (95, 63)])  # a soft-edged stroke: values between 0 and 255
    mask = np.asarray(window.canvas.mask_image())
    assert mask.any()
    assert window.save_project(tmp_path / "soft.i2i")
    window.files.open_path(tmp_path / "input.png")
    assert window.canvas.mask_image() is None
    assert window.open_project(tmp_path / "soft.i2i")
    assert np.array_equal(np.asarray(window.canvas.mask_image()), mask)


def test_opening_a_picture_over_unsaved_work_asks_first(qtbot, fake_window, tmp_path, monkeypatch):
    window = fake_window
    generate(qtbot, window)
    assert window.isWindowModified()  # passes that are in no project file
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: "cancel")
    make_image(40, 30).save(tmp_path / "other.png")
    window.files.open_path(tmp_path / "other.png")
    assert len(window.tree) == 2 and window.canvas.image().size == (96, 64)
    assert "input.png" in window.windowTitle()
    monkeypatch.setattr(project_actions, "ask_save_changes", lambda *a: "discard")
    window.files.open_path(tmp_path / "other.png")
    assert len(window.tree) == 1 and window.canvas.image().size == (40, 30)
    assert window.windowTitle() == "other.png[*] — Img2Img Studio"
    assert not window.isWindowModified()


def test_dropping_a_project_file_opens_it(qtbot, fake_window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    window = fake_window
    generate(qtbot, window)
    assert window.save_project(tmp_path / "dropped.i2i")
    window.files.open_path(tmp_path / "input.png")
    assert len(window.tree) == 1
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.i2i"))])
    viewport = window.canvas.viewport()
    pos = QPointF(viewport.rect().center())
    with warnings.catch_warnings():  # PySide6 only offers the (deprecated) QPoint overload
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            pos.toPoint(),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, drop)
    assert window.project.path == tmp_path / "dropped.i2i" and len(window.tree) == 2
