"""Text from prompts, file names, metadata and errors is shown literally, never as Qt rich text:
``<b>bold</b><img src=x>`` must appear as typed, not as bold text and a broken image."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as QtGuiNamespace
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox, QSlider, QWidget

from core.history import PassTree
from core.metadata import write_png
from gui.history.compare_view import open_compare_dialog
from gui.history.history_panel import HistoryPanel
from gui.window.error_banner import ErrorBanner
from gui.window.file_actions import FileActions
from gui.window.settings import Settings
from tests.tiny_models.images import make_image

MARKUP = "<b>bold</b><img src=x>"
FILE_MARKUP = "<b>bold<img src=x>"  # file names cannot hold "/"


def _shown_text(tooltip: str) -> str:
    """What Qt shows for a tooltip: tooltips render anything that looks like HTML."""
    if not QtGuiNamespace.mightBeRichText(tooltip):
        return tooltip
    document = QTextDocument()
    document.setHtml(tooltip)
    return document.toPlainText()


def _capture_boxes(monkeypatch, reply=QMessageBox.StandardButton.No) -> list[QMessageBox]:
    boxes: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: boxes.append(box) or reply)
    return boxes


def test_history_cards_show_names_and_prompts_literally(qtbot, monkeypatch):
    tree = PassTree()
    tree.set_root(make_image(32, 32), MARKUP)
    record = tree.add("root", make_image(32, 32), {"prompt": MARKUP, "seed": 1, "strength": 0.5})
    tree.rename(record.id, MARKUP)
    panel = HistoryPanel(tree)
    qtbot.addWidget(panel)
    for record_id in ("root", record.id):
        item = panel.item(record_id)
        assert MARKUP in item.text(0)  # item text is drawn as plain text
        assert MARKUP in _shown_text(item.toolTip(0))
    boxes = _capture_boxes(monkeypatch)
    assert panel.delete(record.id) is False
    assert boxes[0].textFormat() == Qt.TextFormat.PlainText and MARKUP in boxes[0].text()


def test_the_error_banner_shows_the_message_literally(qtbot):
    banner = ErrorBanner()
    qtbot.addWidget(banner)
    banner.show_error(f"cannot read {MARKUP}.png: not an image")
    assert banner.label.textFormat() == Qt.TextFormat.PlainText
    assert banner.label.text() == f"cannot read {MARKUP}.png: not an image"


def test_the_restore_parameters_dialog_shows_the_file_name_literally(qtbot, tmp_path, monkeypatch):
    record = {"prompt": MARKUP, "seed": 2}
    path = write_png(tmp_path / f"{FILE_MARKUP}.png", make_image(16, 16), record)
    parent = QWidget()
    qtbot.addWidget(parent)
    tree = PassTree()
    files = FileActions(parent, tree, Settings(path=tmp_path / "s.json"), lambda: None)
    boxes = _capture_boxes(monkeypatch)
    assert files.offer_parameters(path) is False  # answered No
    assert len(boxes) == 1
    assert boxes[0].textFormat() == Qt.TextFormat.PlainText
    assert boxes[0].text().startswith(f"{FILE_MARKUP}.png was generated with")


def test_compare_labels_and_tooltip_show_record_names_literally(qtbot):
    dialog = open_compare_dialog(None, make_image(32, 32), make_image(32, 32), MARKUP, "b & c")
    qtbot.addWidget(dialog)
    named = [label for label in dialog.findChildren(QLabel) if MARKUP in label.text()]
    assert len(named) == 3  # side by side, wipe and difference captions
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in named)
    tooltip = dialog.findChild(QSlider, "wipeSlider").toolTip()
    assert _shown_text(tooltip) == f"Left of the divider: {MARKUP}; right: b & c"
