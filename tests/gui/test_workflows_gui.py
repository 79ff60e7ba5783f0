"""The workflows from the window on the tiny model: every pass lands in the history tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLineEdit

from core.events import PassResult
from core.metadata import read_metadata
from core.model_spec import ModelSpec
from core.requests import PassRequest
from gui.run.jobs import JobCallbacks, Workflow
from gui.run.workflow_jobs import Batch, Multipass, Sweep, Upscale, Variations
from tests.tiny_models.images import make_image

ENGINE_TIMEOUT = 120_000


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=ENGINE_TIMEOUT)


def test_multipass_chains_its_passes_and_applies_the_last(main_window, qtbot):
    window = main_window
    assert window.workflows.start(Multipass((0.5, 0.5, 0.25)))
    assert window.busy and window.workflows.active == "multipass"
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert len(passes) == 3
    assert [r.parent_id for r in passes] == ["root", passes[0].id, passes[1].id]
    assert [r.params["workflow"]["index"] for r in passes] == [1, 2, 3]
    assert [r.strength for r in passes] == [0.5, 0.5, 0.25]
    assert all(r.params["color_match"] for r in passes)
    assert window.tree.current_id == passes[-1].id  # the last pass is the next input
    window.undo_stack.undo()
    assert window.tree.current_id == "root"  # applying the schedule is one undo step
    assert "3 passes finished" in window.progress_bar.format()


def test_multipass_cancelled_halfway_keeps_the_finished_passes(main_window, qtbot):
    window = main_window
    window.state.update(steps=40)  # long passes: the cancel lands in pass 2
    done = []
    window.worker.pass_done.connect(lambda index, _result: done.append(index))
    assert window.workflows.start(Multipass((1.0, 1.0, 1.0)))
    qtbot.waitUntil(lambda: bool(done), timeout=ENGINE_TIMEOUT)
    window.cancel()
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert 1 <= len(passes) < 3
    assert passes[0].parent_id == "root"
    assert "Cancelled" in window.progress_bar.format()
    assert window.generate_button.isEnabled()


def test_sweep_fills_the_contact_sheet_and_groups_the_history(main_window, qtbot):
    window = main_window
    window.state.update(steps=8)
    assert window.workflows.start(Sweep((0.25, 0.5, 0.75), seeds=2))
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert len(passes) == 6
    assert {r.parent_id for r in passes} == {"root"}
    assert len({r.group for r in passes}) == 1
    assert sorted({r.seed for r in passes}) == [1, 2]  # the locked seed, then seed + 1
    assert window.tree.current_id == "root"  # a sweep leaves the input as it was
    sheet = window.workflow_menu.sheet
    assert sheet is not None and sheet.cells_filled() == 6
    cell = sheet.cell_record(1, 2)
    assert window.tree.get(cell).strength == 0.75 and window.tree.get(cell).seed == 2
    header = window.history.group_item("root", passes[0].group)
    assert header is not None and header.childCount() == 6
    assert "3 strengths × 2 seed" in header.text(0)
    sheet.continue_requested.emit(cell)
    assert window.tree.current_id == cell  # any cell can be continued from


def test_variations_are_one_group_of_consecutive_seeds(main_window, qtbot):
    window = main_window
    window.state.update(seed=40)
    assert window.workflows.start(Variations(3))
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert [r.seed for r in passes] == [40, 41, 42]
    assert len({r.group for r in passes}) == 1 and passes[0].group
    assert window.history.group_item("root", passes[0].group).childCount() == 3
    assert not np.array_equal(np.asarray(passes[0].image), np.asarray(passes[1].image))


def test_upscale_adds_one_bigger_pass(main_window, qtbot):
    window = main_window
    assert window.workflows.start(Upscale(2.0, 0.5, tile=64, overlap=16))
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert len(passes) == 1
    assert passes[0].image.size == (192, 128)
    assert passes[0].params["workflow"]["type"] == "upscale"
    assert window.tree.current_id == passes[0].id
    assert window.canvas.image().size == (192, 128)


def test_batch_writes_files_skips_done_ones_and_reports_bad_files(main_window, qtbot, tmp_path):
    window = main_window
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    for index in range(2):
        make_image(64, 64, seed=index).save(in_dir / f"img{index}.png")
    (in_dir / "broken.png").write_bytes(b"not a picture")
    window.canvas.fill_mask()  # the open picture's mask must not travel to the batch
    dialog = window.workflow_menu.open_batch_dialog()
    dialog.input_edit.setText(str(in_dir))
    dialog.output_edit.setText(str(out_dir))
    reports = []
    window.worker.workflow_finished.connect(lambda outcome, _c: reports.append(outcome))
    dialog.start_button.click()  # the dialog starts the batch through the controller
    assert window.busy and dialog.is_running()
    wait_idle(qtbot, window)
    # The report is appended on the worker thread (a direct call, after the queued ones that end
    # the busy state were posted): wait for it too.
    qtbot.waitUntil(lambda: len(reports) == 1)
    report = reports[-1]
    assert (len(report.done), len(report.failed)) == (2, 1)
    assert sorted(p.name for p in out_dir.iterdir()) == ["img0.png", "img1.png"]
    record = read_metadata(out_dir / "img0.png")["record"]
    assert record["workflow"]["type"] == "batch" and "mask_hash" not in record
    assert len(window.tree) == 1  # batch outputs are files, not passes of this picture
    assert "2 done" in dialog.summary_label.text() and "1 failed" in dialog.summary_label.text()
    assert any("broken.png" in dialog.log.item(i).text() for i in range(dialog.log.count()))
    assert not dialog.is_running()
    # A re-run skips what is done and only retries the bad file.
    assert window.workflows.start(Batch(str(in_dir), str(out_dir)))
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(reports) == 2)
    assert (len(reports[-1].done), len(reports[-1].skipped)) == (0, 2)


def test_strength_map_keeps_areas_painted_zero_byte_identical(main_window, qtbot):
    window = main_window
    strength_map = Image.new("L", (96, 64), 0)
    strength_map.paste(204, (48, 0, 96, 64))  # right half at 0.8, left half kept
    window.canvas.set_strength_map_image(strength_map)
    assert window.generate()
    wait_idle(qtbot, window)
    record = window.shown_record()
    assert not record.is_root and "strength_map_hash" in record.params
    before = np.asarray(window.tree.root.image)
    after = np.asarray(record.image)
    assert np.array_equal(after[:, :40], before[:, :40])
    assert not np.array_equal(after[:, 56:], before[:, 56:])


def test_workflow_errors_show_in_the_window(main_window, qtbot):
    window = main_window
    assert window.workflows.start(Multipass((0.5, 0.01)))  # 0.01 × 4 steps runs 0 steps
    wait_idle(qtbot, window)
    assert window.error_banner.isVisible()
    assert "0 denoising steps" in window.error_label.text()
    assert len(window.tree) == 1
    assert window.generate_button.isEnabled()


def test_menu_action_opens_the_dialog_and_runs_the_schedule(main_window, qtbot):
    window = main_window
    action = next(a for a in window.workflow_menu.actions if a.objectName() == "multipassAction")

    def accept_dialog():
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.objectName() == "multipassDialog"
        dialog.findChild(QLineEdit, "scheduleEdit").setText("0.5, 0.25")
        dialog.accept()

    QTimer.singleShot(0, accept_dialog)
    action.trigger()
    assert window.workflows.active == "multipass"
    wait_idle(qtbot, window)
    assert [r.strength for r in window.tree.records() if not r.is_root] == [0.5, 0.25]
    for other in window.workflow_menu.actions:
        assert other.isEnabled()


@dataclass(frozen=True)
class Echo(Workflow):
    """A workflow written in one place: the controller files it from its declared attributes."""

    count: int
    kind: ClassVar[str] = "echo"
    noun: ClassVar[str] = "echoes"
    chains: ClassVar[bool] = True

    def message(self) -> str:
        return f"Echo ×{self.count}…"

    def pass_name(self, index: int, result: PassResult) -> str:
        return f"Echo {index}"

    def run(self, engine: Any, request: PassRequest, spec: ModelSpec, calls: JobCallbacks) -> Any:
        results = []
        for index in range(1, self.count + 1):
            result = PassResult(request.image.copy(), request, index, 1, 0.01, spec.reference, "")
            calls.on_pass(index, result)
            results.append(result)
        return results


def test_a_new_workflow_is_one_class_the_controller_files_by_its_attributes(main_window, qtbot):
    window = main_window
    started: list[str] = []
    window.workflows.started.connect(started.append)
    assert window.workflows.start(Echo(2))
    assert started == ["echo"] and window.workflows.active == "echo"
    wait_idle(qtbot, window)
    passes = [r for r in window.tree.records() if not r.is_root]
    assert [r.name for r in passes] == ["Echo 1", "Echo 2"]
    assert passes[0].parent_id == window.tree.root_id and passes[1].parent_id == passes[0].id
    assert window.tree.current_id == passes[1].id  # chains: the last one is applied
    assert window.progress_bar.format() == "2 echoes finished"
