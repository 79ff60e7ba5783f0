"""Autosave and crash recovery in the window (pytest-qt): after a pass, after a mask stroke within
the debounce, off the GUI thread; the recovery dialog for a leftover autosave; closing mid-pass."""

from __future__ import annotations

import os
import threading
import time

from PySide6.QtWidgets import QDialog, QLabel, QMessageBox

from core.history import PassTree
from core.project import AutosaveStore, Session, load_project, save_project
from core.project import archive as project_archive
from gui.window.autosave import DEBOUNCE_MS
from tests.gui.session_helpers import (
    TIMEOUT,
    drag,
    generate,
    pixels,
    tree_fields,
)
from tests.tiny_models.images import make_image, make_mask


def _autosave_folder(tmp_path):
    return tmp_path / "data" / "autosave"  # IMG2IMG_STUDIO_DATA_DIR (tests/conftest.py)


def test_a_pass_is_autosaved_at_once_off_the_gui_thread(qtbot, fake_window, monkeypatch):
    window = fake_window
    autosaver = window.autosaver
    qtbot.waitUntil(lambda: autosaver.idle, timeout=TIMEOUT)
    autosaver.delay_ms = 600_000  # only the pass itself can trigger the save below
    threads = []
    save = autosaver.store.save

    def spy(session):
        threads.append(threading.current_thread() is threading.main_thread())
        return save(session)

    monkeypatch.setattr(autosaver.store, "save", spy)
    with qtbot.waitSignal(autosaver.saved, timeout=TIMEOUT) as saved:
        record = generate(qtbot, window)
    assert saved.args[0] == autosaver.store.path
    assert threads == [False]
    session = load_project(autosaver.store.path)
    assert tree_fields(session.tree) == tree_fields(window.tree)
    assert session.tree.current_id == window.tree.current_id == "root"  # the input it kept
    assert record.id in session.tree
    assert session.ui["params"]["prompt"] == "a test"


def test_a_mask_stroke_is_autosaved_within_the_debounce(qtbot, fake_window):
    window = fake_window
    autosaver = window.autosaver
    assert autosaver.delay_ms == DEBOUNCE_MS <= 5000
    qtbot.waitUntil(lambda: autosaver.idle, timeout=TIMEOUT)
    saves = []
    autosaver.saved.connect(saves.append)
    drag(window.canvas, [(10, 10), (50, 40)])
    started = time.monotonic()
    qtbot.wait(300)
    assert saves == []  # debounced: a burst of strokes is saved once
    drag(window.canvas, [(60, 10), (80, 50)])
    qtbot.waitUntil(lambda: bool(saves), timeout=DEBOUNCE_MS + 10_000)
    assert time.monotonic() - started < DEBOUNCE_MS / 1000 + 10
    qtbot.waitUntil(lambda: autosaver.idle, timeout=TIMEOUT)
    assert len(saves) == 1
    session = load_project(autosaver.store.path)
    assert pixels(session.mask) == pixels(window.canvas.mask_image())


def _leftover_session() -> Session:
    tree = PassTree()
    root = tree.set_root(make_image(96, 64), "Original")
    mask = make_mask(96, 64)
    first = tree.add(root.id, make_image(96, 64, seed=1), {"strength": 0.4}, mask=mask)
    tree.add(first.id, make_image(96, 64, seed=2), {"strength": 0.3}, name="Second")
    tree.add(root.id, make_image(96, 64, seed=3), {"strength": 0.7}, group="g1")
    tree.select(first.id)
    ui = {"params": {"prompt": "recovered prompt", "strength": 0.4}, "document": "lost.png"}
    return Session(tree, mask, None, ui)


def _leave_autosave(tmp_path) -> tuple:
    """An autosave as a process that died leaves it (no lock held)."""
    session = _leftover_session()
    folder = _autosave_folder(tmp_path)
    return session, save_project(folder / "autosave-999999-0badc0de.i2i", session)


def _open_window(qtbot):
    import main

    win = main.build_window([])
    qtbot.addWidget(win)
    win.show()
    return win


def _dialog(win):
    return win.findChild(QDialog, "recoveryDialog")


def test_recovery_dialog_restores_a_leftover_autosave(qtbot, fake_engine, tmp_path):
    session, leftover = _leave_autosave(tmp_path)
    win = _open_window(qtbot)
    qtbot.waitUntil(lambda: _dialog(win) is not None and _dialog(win).isVisible(), timeout=5000)
    assert win.tree.root is None  # not blocking: the window is up and nothing was replaced yet
    _dialog(win).accept()
    assert tree_fields(win.tree) == tree_fields(session.tree)
    assert win.tree.current_id == session.tree.current_id
    assert pixels(win.canvas.image()) == pixels(session.tree.current.image)
    assert pixels(win.canvas.mask_image()) == pixels(session.mask)
    assert win.state.prompt == "recovered prompt"
    assert win.isWindowModified()  # recovered work is not in any project file
    assert "lost.png" in win.windowTitle()
    # Once this process's autosave holds the work, the leftover goes.
    qtbot.waitUntil(lambda: not leftover.exists(), timeout=TIMEOUT)
    assert tree_fields(load_project(win.autosaver.store.path).tree) == tree_fields(win.tree)
    win.close()
    assert list(_autosave_folder(tmp_path).iterdir()) == []


def test_declined_recovery_keeps_the_autosave_for_the_next_start(qtbot, fake_engine, tmp_path):
    _, leftover = _leave_autosave(tmp_path)
    win = _open_window(qtbot)
    qtbot.waitUntil(lambda: _dialog(win) is not None and _dialog(win).isVisible(), timeout=5000)
    note = _dialog(win).findChild(QLabel, "recoveryNote").text()
    assert "kept in" in note and str(_autosave_folder(tmp_path)) in note
    _dialog(win).reject()
    assert win.tree.root is None and leftover.exists()
    win.close()  # a clean exit keeps it too: it is offered again at the next start
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == [leftover]


def _two_leftovers(tmp_path) -> list:
    """Two autosaves of dead processes, the newest (offered first) first."""
    folder = _autosave_folder(tmp_path)
    paths = [folder / "autosave-999998-0000aaaa.i2i", folder / "autosave-999997-0000bbbb.i2i"]
    for age, path in enumerate(paths):
        save_project(path, _leftover_session())
        os.utime(path, (time.time() - 60 * (age + 1),) * 2)
    return paths


def _offered(qtbot, tmp_path, leftovers):
    win = _open_window(qtbot)
    qtbot.waitUntil(lambda: _dialog(win) is not None and _dialog(win).isVisible(), timeout=5000)
    assert _dialog(win).paths == leftovers
    return win


def _contents(paths) -> list[bytes]:
    return [path.read_bytes() for path in paths]


def test_a_failed_recovery_keeps_both_autosaves(qtbot, fake_engine, tmp_path, monkeypatch):
    leftovers = _two_leftovers(tmp_path)
    before = _contents(leftovers)
    win = _offered(qtbot, tmp_path, leftovers)
    monkeypatch.setattr(project_archive, "MAX_DECODED_BYTES", 1000)  # over the memory limit
    _dialog(win).accept()
    assert win.tree.root is None
    assert "Cannot recover the autosave" in win.error_banner.label.text()
    assert "over the 1,000 bytes a project may take" in win.error_banner.label.text()
    win.close()
    assert _contents(leftovers) == before
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == leftovers


def test_a_cancelled_recovery_keeps_both_autosaves(qtbot, fake_engine, tmp_path, monkeypatch):
    leftovers = _two_leftovers(tmp_path)
    win = _offered(qtbot, tmp_path, leftovers)
    # Unsaved work in the window, and Cancel in the question about it.
    monkeypatch.setattr(type(win.project), "confirm_discard", lambda project: False)
    _dialog(win).accept()
    assert win.tree.root is None
    monkeypatch.undo()  # the window may close
    assert win.close()
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == leftovers


def test_recovering_one_keeps_the_other_for_the_next_start(qtbot, fake_engine, tmp_path):
    leftovers = _two_leftovers(tmp_path)
    expected = tree_fields(load_project(leftovers[0]).tree)
    win = _offered(qtbot, tmp_path, leftovers)
    _dialog(win).accept()
    assert tree_fields(win.tree) == expected
    qtbot.waitUntil(lambda: not leftovers[0].exists(), timeout=TIMEOUT)
    win.close()
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == leftovers[1:]


def test_an_unreadable_autosave_is_renamed_aside_and_reported(qtbot, fake_engine, tmp_path):
    leftovers = _two_leftovers(tmp_path)
    damaged = leftovers[0].read_bytes()[:-200]  # its zip directory cut off
    leftovers[0].write_bytes(damaged)
    win = _offered(qtbot, tmp_path, leftovers)
    _dialog(win).accept()
    assert win.tree.root is None
    aside = [p for p in _autosave_folder(tmp_path).iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert aside[0].name.startswith("autosave-999998-0000aaaa.unreadable-")
    banner = win.error_banner.label.text()
    assert "Cannot recover the autosave" in banner and f"it was kept as {aside[0]}" in banner
    win.close()
    # No longer offered, never deleted; the other one is still offered.
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == leftovers[1:]
    assert aside[0].exists()


def test_delete_removes_only_the_chosen_autosave_after_asking(
    qtbot, fake_engine, tmp_path, monkeypatch
):
    leftovers = _two_leftovers(tmp_path)
    win = _offered(qtbot, tmp_path, leftovers)
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "exec", lambda box: next(answers))
    dialog = _dialog(win)
    assert dialog.delete_chosen() is False and leftovers[0].exists()  # answered No
    assert dialog.delete_chosen() is True
    assert not leftovers[0].exists() and dialog.paths == leftovers[1:] and dialog.isVisible()
    dialog.reject()
    win.close()
    assert AutosaveStore(_autosave_folder(tmp_path)).recoverable() == leftovers[1:]


def test_no_dialog_without_leftovers(qtbot, fake_engine):
    win = _open_window(qtbot)
    qtbot.wait(200)
    assert _dialog(win) is None
    win.close()


def test_closing_mid_pass_autosaves_and_stops_cleanly(qtbot, fake_window, fake_engine):
    window = fake_window
    record = generate(qtbot, window)
    fake_engine.block, fake_engine.entered = True, threading.Event()
    assert window.generate()
    qtbot.waitUntil(fake_engine.entered.is_set, timeout=TIMEOUT)
    path = window.autosaver.store.path
    with qtbot.waitSignal(window.autosaver.saved, timeout=TIMEOUT):
        started = time.perf_counter()
        assert window.close()
        assert time.perf_counter() - started < 0.5  # neither the pass nor the save blocks
        assert window.worker.running
    saved = load_project(path)  # the worker is still finishing; the work is on disk
    assert [r.id for r in saved.tree.records()] == ["root", record.id]
    with qtbot.waitSignal(window.shut_down, timeout=TIMEOUT):
        pass
    assert not path.exists()  # then a clean exit
    assert not window.worker.running
