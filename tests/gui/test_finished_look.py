"""The finished look: title and unsaved marker, About, Help › Keyboard shortcuts, tooltips on
every control, dockable panels with Reset layout, the first-run hint on the empty canvas."""

from __future__ import annotations

from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QToolBar,
    QToolButton,
    QWidget,
)

from gui.window.about_dialog import NOT_INSTALLED, about_rows
from gui.window.settings import APP_NAME
from gui.window.shortcuts_dialog import ShortcutRow, shortcut_clashes, shortcut_rows
from tests.tiny_models.images import make_image, make_mask

INTERACTIVE = (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QAbstractSlider,
    QTextEdit,
    QPlainTextEdit,
    QAbstractItemView,
)


# -- title and unsaved marker ------------------------------------------------------------------
def test_title_names_the_picture_and_marks_unsaved_work(fake_window):
    window = fake_window
    assert window.windowTitle() == f"input.png[*] — {APP_NAME}"
    assert not window.isWindowModified()
    window.canvas.set_mask_image(make_mask(96, 64))  # an edit on the undo stack
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert not window.isWindowModified()


def test_title_without_a_picture_is_the_app_name(empty_window):
    assert empty_window.windowTitle() == f"{APP_NAME}[*]"


# -- About ---------------------------------------------------------------------------------------
def test_about_lists_the_installed_versions_and_the_chosen_device(empty_window):
    empty_window.state.update(device="cpu", dtype="fp32")
    dialog = empty_window.help.show_about()
    values = dialog.values
    assert values[APP_NAME] == metadata.version("img2img-studio")
    assert values["torch"] == metadata.version("torch")
    assert values["diffusers"] == metadata.version("diffusers")
    assert values["Device"].startswith("cpu (chosen; no pass has run yet)")
    assert values["Precision"].startswith("fp32")
    dialog.close()


def test_about_shows_what_the_last_pass_used():
    record = {"device": "cuda:0", "dtype": "fp16", "model": {"memory": "full", "name": "tiny"}}
    rows = dict(about_rows(record, device="auto", dtype="auto"))
    assert rows["Device"] == "cuda:0" and rows["Precision"] == "fp16"
    assert rows["Memory mode"] == "full (last pass)"
    older = dict(about_rows({"model": {"name": "tiny", "family": "sd15"}}, "cpu", "auto"))
    assert older["Device"] == "cpu (chosen; the last pass did not record it)"
    assert all(value != NOT_INSTALLED for key, value in rows.items() if key != "Qt for Python")


def test_about_reads_the_newest_pass_record_of_the_tree(empty_window):
    window = empty_window
    root = window.tree.set_root(make_image(64, 64))
    window.tree.add(root.id, make_image(64, 64), {"device": "cpu", "dtype": "bf16"})
    dialog = window.help.show_about()
    assert dialog.values["Precision"] == "bf16"
    dialog.close()


def test_about_after_a_real_pass_shows_its_device_and_precision(qtbot, main_window):
    from tests.gui.session_helpers import generate

    main_window.state.update(device="cpu", dtype="auto")
    record = generate(qtbot, main_window)
    assert record.params["model"]["device"] == "cpu"
    dialog = main_window.help.show_about()
    assert dialog.values["Device"] == "cpu"
    assert dialog.values["Precision"] == "float32"  # auto on a CPU
    dialog.close()


# -- Keyboard shortcuts ------------------------------------------------------------------------
def test_shortcuts_dialog_lists_every_action_with_a_shortcut(empty_window):
    window = empty_window
    expected = {
        action.text().replace("&", "")
        for action in window.findChildren(QAction)
        if any(not key.isEmpty() for key in action.shortcuts())
    }
    dialog = window.help.show_shortcuts()
    table = dialog.table
    listed = {table.item(row, 1).text() for row in range(table.rowCount())}
    assert expected <= listed
    assert {"Generate", "Models…", "Multi-pass refine…", "Brush", "Keyboard shortcuts…"} <= listed
    places = {table.item(row, 0).text() for row in range(table.rowCount())}
    assert {"File", "Generate", "Workflows", "Canvas"} <= places  # and the canvas's own keys
    dialog.close()


def test_no_two_actions_share_a_shortcut(empty_window, fake_window):
    for window in (empty_window, fake_window):  # without and with a picture (Ctrl+S moves)
        assert shortcut_clashes(shortcut_rows(window)) == {}
    models = next(r for r in shortcut_rows(fake_window) if r.action == "Models…")
    assert models.keys == ("Ctrl+M",)


def test_clashes_are_found():
    rows = [ShortcutRow("A", "One", ("Ctrl+M",)), ShortcutRow("B", "Two", ("Ctrl+M", "F2"))]
    assert shortcut_clashes(rows) == {"Ctrl+M": ["One", "Two"]}


# -- tooltips ------------------------------------------------------------------------------------
def _qt_internal(widget: QWidget) -> bool:
    """Parts Qt makes itself: dock title buttons, scroll bars, headers, combo pop-ups, …"""
    parent = widget.parent()
    return (
        widget.objectName().startswith("qt_")
        or isinstance(widget, QScrollBar | QHeaderView)
        or isinstance(parent, QTabBar | QLineEdit)  # tab scroll arrows, a line edit's buttons
        or (isinstance(widget, QLineEdit) and isinstance(parent, QComboBox | QAbstractSpinBox))
    )


def test_every_control_of_the_window_and_its_panels_has_a_tooltip(fake_window):
    window = fake_window
    missing = []
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or _qt_internal(widget):
            continue
        if widget.window() is not window:  # a combo box's pop-up list
            continue
        if isinstance(widget, QToolButton) and widget.defaultAction() is not None:
            tip = widget.defaultAction().toolTip()
        else:
            tip = widget.toolTip()
        if not tip.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    assert missing == [], "every control needs a tooltip (setToolTip): what it does, its keys"


# -- docks and Reset layout ----------------------------------------------------------------------
def test_side_panels_are_docks_and_reset_layout_restores_the_default(fake_window):
    window = fake_window
    docks = {dock.objectName(): dock for dock in window.findChildren(QDockWidget)}
    assert {"generationDock", "historyDock", "regionsDock", "controlDock"} <= set(docks)
    right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
    assert window.dockWidgetArea(docks["historyDock"]) == left

    docks["historyDock"].close()
    window.addDockWidget(left, docks["generationDock"])
    docks["controlDock"].setFloating(True)
    for toolbar in window.findChildren(QToolBar):
        toolbar.hide()
    window.docks.reset_action.trigger()

    assert docks["historyDock"].isVisible()
    assert window.dockWidgetArea(docks["generationDock"]) == right
    assert window.dockWidgetArea(docks["historyDock"]) == left
    assert not docks["controlDock"].isFloating()
    assert all(toolbar.isVisible() for toolbar in window.findChildren(QToolBar))
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.docks.reset_action in view.actions()


def test_the_layout_is_kept_in_the_settings_and_restored_on_start(qtbot, fake_window):
    import main

    window = fake_window
    window.findChild(QDockWidget, "historyDock").close()
    window.save_settings()
    again = main.build_window([])
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert not again.findChild(QDockWidget, "historyDock").isVisible()
    again.docks.reset()
    assert again.findChild(QDockWidget, "historyDock").isVisible()
    again.close()


# -- first-run hint ------------------------------------------------------------------------------
def test_empty_canvas_shows_the_first_run_hint_until_a_picture_opens(empty_window, input_png):
    window = empty_window
    hint = window.empty_hint
    assert hint.isVisible()
    assert "Open or drop a picture" in hint.text() and "choose a model" in hint.text()
    assert hint.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    window.files.open_path(str(input_png))
    assert window.tree.root is not None
    assert not hint.isVisible()
