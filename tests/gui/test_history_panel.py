"""History panel: mirrors the PassTree, cards, continue/rename/delete/compare."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QInputDialog, QMessageBox

from core.history import PassTree
from gui.history.history_panel import HistoryPanel, card_text
from tests.tiny_models.images import make_image


def _params(strength=0.45, seed=7, prompt="a lighthouse at dusk, oil painting, dramatic sky"):
    return {
        "strength": strength,
        "seed": seed,
        "steps": 30,
        "effective_steps": 13,
        "prompt": prompt,
        "model": {"name": "tiny-sd", "reference": "/m/tiny-sd", "hash": "abc"},
    }


@pytest.fixture
def tree():
    passes = PassTree()
    passes.set_root(make_image(32, 32), "Original")
    return passes


@pytest.fixture
def panel(qtbot, tree):
    widget = HistoryPanel(tree)
    qtbot.addWidget(widget)
    widget.resize(300, 600)
    widget.show()
    return widget


def _click(qtbot, panel, record_id):
    item = panel.item(record_id)
    rect = panel.view.visualItemRect(item)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_panel_shows_existing_and_new_records_as_a_tree(panel, tree):
    assert panel.objectName() == "historyPanel"
    assert panel.view.topLevelItemCount() == 1
    first = tree.add("root", make_image(32, 32, seed=1), _params(), duration=1.25)
    second = tree.add(first.id, make_image(32, 32, seed=2), _params(0.3, 8))
    root_item = panel.item("root")
    assert root_item.childCount() == 1
    assert root_item.child(0).childCount() == 1
    assert panel.item(second.id).parent() is panel.item(first.id)
    assert not panel.item(first.id).icon(0).isNull()  # thumbnail


def test_card_shows_strength_seed_steps_prompt_duration_and_model(tree):
    record = tree.add("root", make_image(32, 32), _params(), duration=1.25)
    text = card_text(record)
    for piece in (
        "Pass 1",
        "strength 0.45",
        "seed 7",
        "13 steps",
        "a lighthouse",
        "1.2 s",
        "tiny-sd",
    ):
        assert piece in text, piece
    assert "…" in text  # long prompts are cut to a snippet


def test_clicking_a_card_asks_to_show_it(panel, tree, qtbot):
    record = tree.add("root", make_image(32, 32), _params())
    with qtbot.waitSignal(panel.record_shown) as blocker:
        _click(qtbot, panel, record.id)
    assert blocker.args == [record.id]


def test_input_card_is_marked_and_continue_emits(panel, tree, qtbot):
    record = tree.add("root", make_image(32, 32), _params())
    assert panel.item("root").font(0).bold()
    assert panel.item("root").text(0).startswith("▶")
    panel.select(record.id)
    assert panel.continue_action.isEnabled()
    with qtbot.waitSignal(panel.continue_requested) as blocker:
        panel.continue_action.trigger()
    assert blocker.args == [record.id]
    tree.select(record.id)
    assert panel.item(record.id).font(0).bold()
    assert not panel.item("root").font(0).bold()
    assert not panel.continue_action.isEnabled()  # it already is the input


def test_rename_updates_the_card(panel, tree, monkeypatch):
    record = tree.add("root", make_image(32, 32), _params())
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Best one", True))
    panel.select(record.id)
    panel.rename_action.trigger()
    assert tree.get(record.id).name == "Best one"
    assert "Best one" in panel.item(record.id).text(0)


def test_delete_asks_first_and_removes_descendants(panel, tree, monkeypatch):
    first = tree.add("root", make_image(32, 32), _params())
    child = tree.add(first.id, make_image(32, 32), _params())
    asked = []

    def answer_no(box):
        asked.append(box.text())
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "exec", answer_no)
    panel.select(first.id)
    panel.delete_action.trigger()
    assert asked and "1 passes made from it" in asked[0]
    assert first.id in tree and panel.item(first.id) is not None

    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Yes)
    panel.delete_action.trigger()
    assert first.id not in tree and child.id not in tree
    assert panel.item(first.id) is None and panel.item(child.id) is None
    assert panel.item("root").childCount() == 0


def test_root_cannot_be_deleted(panel, tree, monkeypatch):
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Yes)
    panel.select("root")
    assert not panel.delete_action.isEnabled()
    assert panel.delete("root") is False
    assert "root" in tree


def test_compare_two_selected_passes_and_with_original(panel, tree, qtbot):
    first = tree.add("root", make_image(32, 32, seed=1), _params())
    second = tree.add("root", make_image(32, 32, seed=2), _params())
    panel.select(first.id, second.id)
    assert panel.compare_action.isEnabled()
    assert not panel.compare_original_action.isEnabled()
    panel.compare_action.trigger()
    dialogs = panel.findChildren(QDialog, "compareDialog")
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    assert "Pass 1" in dialogs[0].windowTitle() and "Pass 2" in dialogs[0].windowTitle()
    dialogs[0].close()

    panel.select(second.id)
    assert panel.compare_original_action.isEnabled()
    opened = []
    panel.compare = lambda left, right: opened.append((left, right))
    panel.compare_original_action.trigger()
    assert opened == [("root", second.id)]


def test_new_tree_clears_the_panel(panel, tree):
    tree.add("root", make_image(32, 32), _params())
    tree.set_root(make_image(16, 16), "Another")
    assert panel.view.topLevelItemCount() == 1
    assert panel.item("root").childCount() == 0
    assert "Another" in panel.item("root").text(0)
