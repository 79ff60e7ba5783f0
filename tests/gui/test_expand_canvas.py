"""Workflows › Expand canvas… (outpainting) and the soft-inpainting checkbox, from the window."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QCheckBox, QSpinBox

from gui.window.expand_dialog import ExpandDialog

ENGINE_TIMEOUT = 120_000


def test_dialog_shows_the_new_size_and_refuses_no_margins(qtbot):
    dialog = ExpandDialog(30, 0.5, (96, 64))
    qtbot.addWidget(dialog)
    assert not dialog.is_valid() and "at least one margin" in dialog.reason()
    dialog.findChild(QSpinBox, "expandLeftSpin").setValue(32)
    dialog.findChild(QSpinBox, "expandBottomSpin").setValue(16)
    assert dialog.is_valid()
    assert dialog.size_label.text() == "96 × 64 → 128 × 80"
    settings = dialog.settings()
    assert settings.sides == (32, 0, 0, 16) and settings.band == 64 and settings.strength == 0.85


def test_expand_action_runs_the_outpaint_and_files_one_pass(main_window, qtbot):
    window = main_window
    action = next(a for a in window.workflow_menu.actions if a.objectName() == "expandAction")

    def accept_dialog():
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.objectName() == "expandDialog"
        dialog.findChild(QSpinBox, "expandRightSpin").setValue(32)
        dialog.findChild(QSpinBox, "expandBandSpin").setValue(8)
        dialog.accept()

    QTimer.singleShot(0, accept_dialog)
    action.trigger()
    assert window.workflows.active == "outpaint"
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert len(passes) == 1
    root = next(r for r in window.tree.records() if r.is_root)
    assert passes[0].parent_id == root.id
    assert passes[0].image.size == (128, 64)
    assert passes[0].params["kind"] == "outpaint"
    assert passes[0].params["outpaint"]["right"] == 32
    assert window.tree.current_id == passes[0].id


def test_soft_inpaint_checkbox_reaches_the_request(main_window):
    window = main_window
    check = window.findChild(QCheckBox, "softInpaintCheck")
    assert check is not None and not check.isChecked()
    request, _ = window.runner.build_request()
    assert request.soft_inpaint is False
    check.setChecked(True)
    assert window.state.soft_inpaint is True
    request, _ = window.runner.build_request()
    assert request.soft_inpaint is True


def test_expand_is_also_a_canvas_tool(main_window):
    action = main_window.findChild(QAction, "expandAction")
    assert action in main_window.mask_toolbar.actions()
