"""README's "Your first result", step by step, in the real window: each thing it says happens.

The tiny random-weight model stands in for a downloaded one (registered through the Models…
dialog's "Your folders" page, as a user's own folder would be); file dialogs are answered with
a path, as the user would type it. Keep this test and the README section in step.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from core.metadata import read_metadata
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 120_000


def _same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


def _keys(window, sequence: str) -> None:
    """Press a shortcut the way a user does (on the focused canvas)."""
    key = QKeySequence(sequence)[0]
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, key.key(), key.keyboardModifiers())


def test_your_first_result_step_by_step(qtbot, tiny_model_dir, tmp_path, monkeypatch):
    import main
    from gui.run import worker

    monkeypatch.setattr(worker, "_engine", None)  # as in a freshly started app
    picture = tmp_path / "harbour.png"
    make_image(96, 64).save(picture)

    # 1. Start the app: an empty window says what to do first.
    window = main.build_window([])
    qtbot.addWidget(window)
    with qtbot.waitActive(window):  # shortcuts reach the active window only
        window.show()
        window.activateWindow()
    assert window.empty_hint.isVisible()
    assert window.empty_hint.text().startswith("Open or drop a picture (Ctrl+O)")

    # 2. Get a model: Models… (Ctrl+M) → Your folders → the folder → "Use for the next pass".
    _keys(window, "Ctrl+M")
    dialog = window.models.dialog
    assert dialog is not None and dialog.isVisible()
    page = dialog.folders_page
    dialog.tabs.setCurrentWidget(page)
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Your folders"
    with qtbot.waitSignal(dialog.library_changed, timeout=ENGINE_TIMEOUT):
        page.scan(tiny_model_dir.parent)
    names = [page.table.item(row, 0).text() for row in range(page.table.rowCount())]
    page.table.selectRow(names.index(tiny_model_dir.name))
    assert page.use_button.text() == "Use for the next pass"
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    assert window.state.model == str(tiny_model_dir)
    with qtbot.waitActive(window):
        dialog.close()
        window.activateWindow()

    # 3. Open a picture: File › Open… (Ctrl+O).
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(picture), ""))
    _keys(window, "Ctrl+O")
    assert window.tree.root is not None and window.canvas.image().size == (96, 64)
    assert not window.empty_hint.isVisible()
    assert window.starts_from_label.text() == "Starts from: harbour"

    # 4. Describe the whole result in the prompt.
    window.panel.prompt_edit.setFocus()
    QTest.keyClicks(window.panel.prompt_edit, "a harbour at dawn, oil painting, soft light")
    assert window.state.prompt == "a harbour at dawn, oil painting, soft light"

    # 5. Pick a strength: Gentle style transfer (0.45); the panel says how many steps will run.
    window.panel.steps_spin.setValue(10)  # fewer than the default 30: a quick test
    qtbot.mouseClick(
        window.panel.preset_buttons["Gentle style transfer"], Qt.MouseButton.LeftButton
    )
    assert window.state.strength == 0.45
    assert window.panel.steps_label.text() == "4 of 10 steps will run"

    # 6. Generate (Ctrl+Enter): "Loading model…", step previews on the canvas, then the result
    #    as a selected history card, shown on the canvas.
    bar_texts: list[str] = []
    previews: list[object] = []
    window.runner.progress_changed.connect(lambda *_: bar_texts.append(window.progress_bar.text()))
    window.runner.preview.connect(lambda image: image is not None and previews.append(image))
    _keys(window, "Ctrl+Return")
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert "Loading model…" in bar_texts
    assert previews, "each step's preview appears on the canvas"
    first = window.shown_record()
    assert first is not None and first.parent_id == window.tree.root_id
    assert window.history.selected_ids() == [first.id]
    assert _same(window.canvas.image(), first.image)

    # 7. Adjust: raise the strength and Generate again: from the same input (a sibling).
    window.panel.strength_spin.setValue(0.6)
    _keys(window, "Ctrl+Return")
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    second = window.shown_record()
    assert second.parent_id == first.parent_id == window.tree.root_id
    assert window.history.selected_ids() == [second.id]
    #    To refine a result instead: select its card, Continue from here → its child.
    window.history.select(first.id)
    assert _same(window.canvas.image(), first.image)  # the card shown is the picture shown
    qtbot.mouseClick(window.findChild(object, "ContinuefromhereButton"), Qt.MouseButton.LeftButton)
    assert window.starts_from_label.text() == f"Starts from: {first.name}"
    _keys(window, "Ctrl+Return")
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    third = window.shown_record()
    assert third.parent_id == first.id
    #    To change only part of the picture, paint a mask with the brush (B) first.
    window.canvas.set_tool("pan")
    _keys(window, "B")
    assert window.canvas.tool() == "brush"
    assert window.statusBar().currentMessage() == "Tool: Brush (B)"

    # 8. Save: File › Save result as PNG… (Ctrl+S) keeps the picture with its settings.
    out = tmp_path / "result.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(out), ""))
    _keys(window, "Ctrl+S")
    meta = read_metadata(out)
    assert meta["record"]["seed"] == third.seed
    assert meta["parsed"]["prompt"] == "a harbour at dawn, oil painting, soft light"
    assert meta["parsed"]["strength"] == third.strength == 0.6
    window.close()
