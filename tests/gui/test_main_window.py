"""The main window end to end on the tiny model: generate, cancel, branch, undo, errors, files."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from gui.qt_images import pil_to_qimage
from gui.window.settings import SCHEMA_VERSION, Settings
from tests.tiny_models.images import make_image, make_mask

ENGINE_TIMEOUT = 120_000


def generate_and_wait(qtbot, window) -> None:
    assert window.generate()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)


class PreviewLog(QObject):
    """Runs after the window's own preview slot (queued on the GUI thread, connected later)."""

    def __init__(self, window) -> None:
        super().__init__()
        self.window = window
        self.steps: list[int] = []
        self.formats: list[str] = []
        self.preview_shown: list[bool] = []
        window.worker.preview.connect(self.on_preview)

    @Slot(int, int, float, object)
    def on_preview(self, step, total, elapsed, image):
        self.steps.append(step)
        self.formats.append(self.window.progress_bar.format())
        self.preview_shown.append(self.window.canvas.is_preview_shown())


def test_window_has_the_contract_widgets(main_window):
    for name in (
        "canvas",
        "promptEdit",
        "negativePromptEdit",
        "strengthSlider",
        "strengthSpin",
        "stepsSpin",
        "cfgSpin",
        "seedSpin",
        "seedLockButton",
        "generateButton",
        "cancelButton",
        "progressBar",
        "historyPanel",
        "brushSizeSpin",
        "modelPicker",
    ):
        assert main_window.findChild(QWidget, name) is not None, name
    assert main_window.canvas.image().size == (96, 64)
    assert main_window.tree.root is not None
    assert not main_window.cancel_button.isEnabled()


def test_toolbar_drives_the_canvas_brush_and_follows_its_shortcuts(main_window):
    window = main_window
    spin = window.findChild(QWidget, "brushSizeSpin")
    spin.setValue(30)
    assert window.canvas.brush.size == 30
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.canvas.brush.size > 30
    assert spin.value() == window.canvas.brush.size
    window.mask_toolbar.tool_actions["eraser"].trigger()
    assert window.canvas.brush.eraser
    window.mask_toolbar.hardness_spin.setValue(0.3)
    assert window.canvas.brush.hardness == 0.3
    window.findChild(QAction, "fillMaskAction").trigger()
    assert window.canvas.mask_image() is not None
    assert window.panel.mask_group.isVisible()
    window.undo_action.trigger()
    assert window.canvas.mask_image() is None
    assert not window.panel.mask_group.isVisible()


def test_generating_streams_previews_adds_a_card_and_keeps_unmasked_pixels(main_window, qtbot):
    window = main_window
    original = np.asarray(window.tree.root.image).copy()
    mask = make_mask(96, 64)
    window.state.update(mask_blur=0, steps=6, strength=0.5)
    window.canvas.set_mask_image(mask)
    assert window.panel.mask_group.isVisible()  # mask options appear with a mask
    log = PreviewLog(window)

    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    assert window.busy and window.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)

    assert log.steps == [1, 2, 3]
    assert all(log.preview_shown)  # each preview was in the canvas as it arrived
    assert log.formats[-1].startswith("step 3/3 · ") and "it/s · ETA" in log.formats[-1]
    assert len(window.tree) == 2
    record = window.shown_record()
    assert record.parent_id == "root" and window.tree.current_id == "root"  # the input stays
    assert window.history.item(record.id) is not None
    assert window.history.selected_ids() == [record.id]  # its card is selected
    assert record.params["seed"] == window.state.seed
    assert not window.canvas.is_preview_shown()
    result = np.asarray(window.canvas.image())
    assert np.array_equal(result, np.asarray(record.image))
    outside = np.asarray(mask) == 0
    assert np.array_equal(result[outside], original[outside])
    assert not np.array_equal(result[~outside], original[~outside])


def test_cancel_mid_run_returns_to_the_previous_view_and_adds_no_card(main_window, qtbot):
    window = main_window
    window.state.update(steps=300, strength=1.0)
    log = PreviewLog(window)
    assert window.generate()
    qtbot.waitUntil(lambda: len(log.steps) >= 1, timeout=ENGINE_TIMEOUT)
    assert window.canvas.is_preview_shown()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)

    assert len(log.steps) < 10  # stopped within a step or two, not after 300
    assert len(window.tree) == 1
    assert not window.canvas.is_preview_shown()
    assert np.array_equal(np.asarray(window.canvas.image()), np.asarray(window.tree.root.image))
    assert window.progress_bar.format() == "Cancelled"
    assert window.generate_button.isEnabled() and not window.cancel_button.isEnabled()


def test_generate_again_is_a_sibling_and_continue_from_here_a_child(main_window, qtbot):
    window = main_window
    generate_and_wait(qtbot, window)
    first = window.shown_record()
    window.state.strength = 0.3  # "lost what mattered: lower it and Generate again"
    generate_and_wait(qtbot, window)
    second = window.shown_record()
    assert first.parent_id == second.parent_id == "root"  # the same input, not stacked passes
    assert window.starts_from_label.text() == "Starts from: input"

    window.history.select(first.id)
    window.history.continue_action.trigger()
    assert window.tree.current_id == first.id
    assert window.starts_from_label.text() == f"Starts from: {first.name}"
    generate_and_wait(qtbot, window)
    third = window.shown_record()
    assert third.parent_id == first.id
    generate_and_wait(qtbot, window)
    fourth = window.shown_record()
    assert fourth.parent_id == first.id
    assert [c.id for c in window.tree.children(first.id)] == [third.id, fourth.id]
    assert window.history.item(first.id).childCount() == 2
    assert len(window.tree) == 5


def test_continue_from_an_earlier_pass_makes_a_branch(main_window, qtbot):
    window = main_window
    generate_and_wait(qtbot, window)
    first = window.shown_record()
    window.continue_from(first.id)
    generate_and_wait(qtbot, window)
    second = window.shown_record()
    assert second.parent_id == first.id

    window.history.select(first.id)
    window.history.continue_action.trigger()
    assert window.tree.current_id == first.id
    generate_and_wait(qtbot, window)
    third = window.shown_record()
    assert third.parent_id == first.id
    assert [c.id for c in window.tree.children(first.id)] == [second.id, third.id]
    assert window.history.item(first.id).childCount() == 2
    assert len(window.tree) == 4  # the later pass of the other branch is kept


def test_compare_view_opens_from_the_history(main_window, qtbot):
    window = main_window
    generate_and_wait(qtbot, window)
    window.history.select(window.shown_record().id)
    window.history.compare_original_action.trigger()
    dialogs = window.findChildren(QDialog, "compareDialog")
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].close()


def test_broken_model_shows_an_error_and_the_app_still_generates(
    main_window, qtbot, tmp_path, tiny_model_dir
):
    window = main_window
    window.state.model = str(tmp_path / "missing-model")
    generate_and_wait(qtbot, window)
    assert window.error_banner.isVisible()
    message = window.error_label.text()
    assert message and "\n" not in message and "Traceback" not in message
    assert window.statusBar().currentMessage() == message
    assert len(window.tree) == 1 and window.generate_button.isEnabled()

    window.state.model = str(tiny_model_dir)
    generate_and_wait(qtbot, window)
    assert len(window.tree) == 2
    assert not window.error_banner.isVisible()


def test_generate_needs_an_image_and_a_model(empty_window, qtbot, tiny_model_dir):
    window = empty_window
    assert window.generate() is False
    assert "Open an image" in window.error_label.text()
    window.set_root_image(make_image(64, 64))
    window.state.model = ""
    assert window.generate() is False
    assert "Choose a model" in window.error_label.text()
    assert not window.busy


def test_ctrl_z_undoes_applying_a_pass_and_redo_reapplies(main_window, qtbot):
    window = main_window
    window.canvas.set_mask_image(make_mask(96, 64))
    generate_and_wait(qtbot, window)
    applied = window.shown_record()
    window.history.continue_action.trigger()  # its card is selected: Continue from here
    assert window.tree.current_id == applied.id
    assert window.undo_action.text() == f"Undo Use {applied.name} as input"
    root_pixels = np.asarray(window.tree.root.image)

    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.tree.current_id == "root"
    assert np.array_equal(np.asarray(window.canvas.image()), root_pixels)
    assert window.canvas.mask_image() is not None  # only the pass was undone
    assert applied.id in window.tree  # the pass stays in the history

    QTest.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.tree.current_id == applied.id
    assert np.array_equal(np.asarray(window.canvas.image()), np.asarray(applied.image))

    window.undo_action.trigger()
    window.undo_action.trigger()  # the mask edit shares the same undo stack
    assert window.canvas.mask_image() is None
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, shift_ctrl)
    assert window.canvas.mask_image() is not None


def test_ctrl_return_generates(main_window, qtbot):
    window = main_window
    window.panel.prompt_edit.setFocus()
    QTest.keyClick(window.panel.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)
    assert len(window.tree) == 2
    assert "\n" not in window.state.prompt


def test_previews_and_the_result_are_converted_off_the_gui_thread(main_window, qtbot):
    """Nothing sized by the picture runs on the GUI thread per step: previews reach the canvas as
    QImages made on the worker, and the result's QImage and thumbnail were made there too (the
    GUI-thread gap itself is measured by tests/benchmarks/bench_gui.py, not asserted here)."""
    import threading

    from PySide6.QtGui import QImage

    from gui import qt_images

    window = main_window
    window.state.update(steps=6, strength=1.0)
    shown: list[object] = []
    original = window.canvas.show_preview
    window.canvas.show_preview = lambda image: (shown.append(image), original(image))[1]
    window.runner.preview.disconnect()
    window.runner.preview.connect(window.canvas.show_preview)
    generate_and_wait(qtbot, window)

    converted_on = window.worker.previews.converted_on
    assert converted_on and threading.get_ident() not in converted_on
    assert any(isinstance(image, QImage) for image in shown)
    assert all(image is None or isinstance(image, QImage) for image in shown)
    record = window.shown_record()
    assert qt_images._ready(record.image, 0) is not None
    assert qt_images._ready(record.image, qt_images.HISTORY_THUMBNAIL_SIDE) is not None


def test_save_png_with_metadata_and_export_all_passes(main_window, qtbot, tmp_path):
    from core.metadata import read_metadata

    window = main_window
    generate_and_wait(qtbot, window)
    record = window.shown_record()
    assert window.files.save(record, tmp_path / "out")
    meta = read_metadata(tmp_path / "out.png")
    assert meta["record"]["seed"] == record.seed
    assert meta["parsed"]["strength"] == record.strength

    index_path = window.files.export_all(tmp_path / "export")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    files = [entry["file"] for entry in index["passes"]]
    assert len(files) == 2 and all((tmp_path / "export" / f).exists() for f in files)
    assert index["passes"][1]["parent_id"] == "root"


def test_dropping_a_generated_png_offers_to_restore_parameters(
    main_window, qtbot, tmp_path, monkeypatch
):
    from core.metadata import write_png

    record = {
        "prompt": "a castle",
        "negative_prompt": "",
        "steps": 25,
        "cfg": 5.0,
        "seed": 4242,
        "scheduler": "Euler a",
        "strength": 0.65,
        "width": 96,
        "height": 64,
    }
    path = write_png(tmp_path / "made.png", make_image(96, 64, seed=5), record)
    asked = []
    monkeypatch.setattr(
        QMessageBox, "exec", lambda box: asked.append(box.text()) or QMessageBox.StandardButton.Yes
    )
    assert main_window.files.open_path(path, offer_parameters=True)
    assert asked
    state = main_window.state
    assert (state.prompt, state.steps, state.seed, state.strength) == ("a castle", 25, 4242, 0.65)
    assert state.scheduler == "Euler a" and state.seed_locked
    assert main_window.tree.root.name == "made"


def test_dropping_a_file_on_the_canvas_opens_it(main_window, tmp_path):
    path = tmp_path / "dropped.png"
    make_image(64, 48, seed=9).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    viewport = main_window.canvas.viewport()
    pos = QPointF(viewport.rect().center())
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide6 only offers the (deprecated) QPoint overload
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(pos, actions, mime, buttons, mods))
    assert main_window.tree.root.name == "dropped"
    assert main_window.canvas.image().size == (64, 48)


def test_pasting_an_image_opens_it(main_window):
    QApplication.clipboard().setImage(pil_to_qimage(make_image(40, 32, seed=3)))
    main_window.files.paste_action.trigger()
    assert main_window.tree.root.name == "Pasted"
    assert main_window.canvas.image().size == (40, 32)


def test_open_reports_unreadable_files_in_the_window(main_window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    assert not main_window.files.open_path(bad)
    assert main_window.error_banner.isVisible()
    assert len(main_window.tree) == 1  # the session is untouched


def test_settings_round_trip(tmp_path):
    settings = Settings.load(tmp_path / "s.json")
    settings.remember_model("/models/a")
    settings.remember_model("/models/b", "/configs/b")
    settings.remember_model("/models/a")
    settings.last_params = {"prompt": "x", "strength": 0.3}
    settings.save()
    again = Settings.load(tmp_path / "s.json")
    assert again.recent_models == ["/models/a", "/models/b"]
    assert (again.last_model, again.last_params) == ("/models/a", {"prompt": "x", "strength": 0.3})
    assert json.loads((tmp_path / "s.json").read_text())["schema_version"] == SCHEMA_VERSION
    (tmp_path / "s.json").write_text("{ broken")
    assert Settings.load(tmp_path / "s.json").recent_models == []


def test_window_remembers_parameters_and_model_between_runs(qtbot, tiny_model_dir):
    import main

    first = main.build_window(["--model", str(tiny_model_dir)])
    qtbot.addWidget(first)
    first.state.update(prompt="remember me", strength=0.65, steps=12)
    first.close()

    second = main.build_window([])
    qtbot.addWidget(second)
    assert second.state.prompt == "remember me"
    assert second.panel.strength_slider.value() == 65
    assert second.state.model == str(tiny_model_dir)
    second.close()


def test_window_shows_before_torch_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from gui.window.app import ensure_application, run_gui\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = ensure_application()\n"
        "seen = []\n"
        "def check():\n"
        "    seen.append([w.isVisible() for w in app.topLevelWidgets()"
        " if w.objectName() == 'mainWindow'])\n"
        "    seen.append('torch' in sys.modules)\n"
        "    app.quit()\n"
        "QTimer.singleShot(300, check)\n"
        f"code = run_gui([{str(tmp_path / 'missing.png')!r}])\n"
        "print(seen, code)\n"
        "sys.exit(0 if seen == [[True], False] and code == 0 else 1)\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "IMG2IMG_STUDIO_CONFIG_DIR": str(tmp_path)}
    import os

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
