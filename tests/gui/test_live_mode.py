"""Live mode: the state machine without Qt or a model, the defaults, the frame recorder, and the
real window on the tiny model (a stroke renders without Generate, cancel-restart, Apply, Record)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand

from core.conditioning.specs import LoraSpec
from core.metadata import read_metadata
from gui.live import live_defaults
from gui.live.frame_recorder import FrameRecorder, next_frame_number
from gui.live.live_defaults import LiveDefaults
from gui.live.live_loop import LiveLoop, LiveState
from gui.live.live_wiring import LIVE_SHORTCUT
from tests.gui.session_helpers import drag

ENGINE_TIMEOUT = 120_000


# -- the state machine, driven by hand ------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeRunner:
    """Records what the loop asks for; ``can_start`` False acts as "no picture open"."""

    def __init__(self) -> None:
        self.started = 0
        self.cancels = 0
        self.timers: list[float] = []
        self.can_start = True

    def start(self) -> bool:
        self.started += self.can_start
        return self.can_start

    def cancel(self) -> None:
        self.cancels += 1


@pytest.fixture
def loop():
    clock, runner = Clock(), FakeRunner()
    live = LiveLoop(runner.start, runner.cancel, runner.timers.append, 0.15, clock)
    live.clock_ = clock  # type: ignore[attr-defined]
    live.runner_ = runner  # type: ignore[attr-defined]
    return live


def test_an_edit_starts_a_pass_only_after_the_debounce(loop):
    clock, runner = loop.clock_, loop.runner_
    loop.input_changed()  # off: edits are ignored
    assert runner.timers == [] and not loop.busy
    loop.set_enabled(True)  # on: the current input is rendered after the debounce
    assert runner.timers == [0.15] and runner.started == 0
    clock.now += 0.1
    loop.input_changed()  # a second edit moves the deadline
    clock.now += 0.1
    loop.timer_elapsed()  # the first timer fires early for the second edit: armed again
    assert runner.started == 0 and runner.timers[-1] == pytest.approx(0.05)
    clock.now += 0.05
    loop.timer_elapsed()
    assert runner.started == 1 and loop.state is LiveState.RUNNING
    clock.now += 0.3
    assert loop.pass_ended("finished") is True
    assert loop.latency() == pytest.approx(0.45)  # from the last edit, not the first
    assert not loop.busy and loop.counts.finished == 1


def test_an_edit_while_running_cancels_and_restarts_from_the_newest_input(loop):
    clock, runner = loop.clock_, loop.runner_
    loop.set_enabled(True)
    clock.now += 0.15
    loop.timer_elapsed()
    loop.input_changed()  # the running pass is stale: cancelled at once, nothing queued
    assert runner.cancels == 1 and loop.state is LiveState.CANCELLING
    loop.input_changed()
    assert runner.cancels == 1  # cancelling already
    loop.timer_elapsed()
    clock.now += 0.2
    loop.timer_elapsed()
    assert runner.started == 1  # still ending: the next one waits for it
    assert loop.pass_ended("cancelled") is False
    assert runner.started == 2 and loop.state is LiveState.RUNNING  # debounce over: restarts
    assert loop.pass_ended("finished") is True


def test_a_stale_pass_that_finishes_anyway_is_dropped_and_the_restart_waits(loop):
    clock, runner = loop.clock_, loop.runner_
    loop.set_enabled(True)
    clock.now += 0.15
    loop.timer_elapsed()
    loop.input_changed()
    clock.now += 0.05
    assert loop.pass_ended("finished") is False  # finished before the cancel reached it
    assert loop.counts.stale_finished == 1
    assert runner.started == 1 and runner.timers[-1] == pytest.approx(0.1)  # debounce left
    clock.now += 0.1
    loop.timer_elapsed()
    assert runner.started == 2


def test_turning_live_off_cancels_and_a_pass_that_cannot_start_leaves_it_idle(loop):
    clock, runner = loop.clock_, loop.runner_
    loop.set_enabled(True)
    clock.now += 0.15
    loop.timer_elapsed()
    loop.set_enabled(False)
    assert runner.cancels == 1
    loop.pass_ended("cancelled")
    assert not loop.busy and runner.started == 1
    runner.can_start = False  # no picture: nothing runs, nothing is retried
    loop.set_enabled(True)
    clock.now += 0.15
    loop.timer_elapsed()
    assert loop.state is LiveState.IDLE and not loop.busy and loop.counts.started == 1


def test_never_more_than_one_pass_outstanding_whatever_the_order(loop):
    clock, runner = loop.clock_, loop.runner_
    rng = random.Random(5)
    outstanding = 0
    loop.set_enabled(True)
    for _ in range(2000):
        before = runner.started
        match rng.choice(("edit", "timer", "end", "tick")):
            case "edit":
                loop.input_changed()
            case "timer":
                loop.timer_elapsed()
            case "end" if outstanding:
                outstanding -= 1
                loop.pass_ended(rng.choice(("finished", "cancelled", "failed")))
            case _:
                clock.now += rng.choice((0.01, 0.1, 0.2))
        outstanding += runner.started - before
        assert outstanding <= 1
        assert (outstanding == 1) == (loop.state is not LiveState.IDLE)


# -- defaults and the recorder ---------------------------------------------------------------
def test_defaults_follow_the_model_family_and_few_step_kind():
    defaults = LiveDefaults(model="stabilityai/sd-turbo")
    ordinary = defaults.settings(30)
    assert ordinary.steps == live_defaults.ORDINARY_LIVE_STEPS and ordinary.cfg is None
    assert "few-step model" in ordinary.note
    other = {"model": {"family": "sdxl", "reference": "someone/else"}, "few_step": {"kind": "x"}}
    assert not defaults.learn(other)  # another model's record says nothing about this one
    turbo = {
        "model": {"family": "sd2", "reference": "stabilityai/sd-turbo"},
        "few_step": {"kind": "turbo", "min_steps": 1},
    }
    assert defaults.learn(turbo)
    settings = defaults.settings(30)
    assert (settings.steps, settings.cfg) == (4, 1.0)
    assert settings.note == "Turbo model: 4 steps, guidance off"
    defaults.forget("runwayml/sd15")
    assert defaults.learn({"model": {"family": "sd1", "reference": "runwayml/sd15"}})
    assert defaults.settings(6).steps == 6 and defaults.settings(6).note.startswith("sd1 model")
    sd15 = {"model": {"family": "sd1", "reference": "runwayml/sd15", "name": "sd15"}}
    assert defaults.learn(sd15) and defaults.settings(6).note.startswith("sd15: 6 steps")


def test_recorder_numbers_frames_after_those_already_there(tmp_path, test_image):
    (tmp_path / "live_00007.png").write_bytes(b"")
    recorder = FrameRecorder(tmp_path)
    paths = [recorder.add(test_image, {"seed": n, "prompt": "p"}) for n in range(3)]
    recorder.close()
    assert [p.name for p in paths] == ["live_00008.png", "live_00009.png", "live_00010.png"]
    assert recorder.written == 3 and not recorder.errors
    assert read_metadata(paths[1])["record"]["seed"] == 1
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temporary file left
    assert next_frame_number(tmp_path) == 11


# -- the real window on the tiny model ------------------------------------------------------------
def _wait_frame(qtbot, live):
    qtbot.waitUntil(
        lambda: live.controller.frame is not None and not live.controller.loop.busy,
        timeout=ENGINE_TIMEOUT,
    )
    return live.controller.frame


def _mask_bytes(image) -> bytes | None:
    return None if image is None else np.asarray(image.convert("L")).tobytes()


def test_a_stroke_in_live_mode_renders_without_generate_and_apply_files_it(main_window, qtbot):
    window, live = main_window, main_window.live
    assert live.button.objectName() == "liveButton"
    live.action.trigger()  # what Ctrl+L does
    assert live.live and live.button.isChecked() and live.view.isVisible()
    first = _wait_frame(qtbot, live)  # turning it on renders the current input
    assert first.result.request.mask is None
    apply_button = window.findChild(type(live.view.apply_button), "liveApplyButton")
    assert apply_button.isEnabled()
    previews = []
    live.controller.preview.connect(lambda image, step, total: previews.append((step, total)))
    drag(window.canvas, [(10, 10), (40, 30), (60, 40)])
    assert not apply_button.isEnabled()  # the shown frame is outdated
    assert live.view.is_processing()
    frame = _wait_frame(qtbot, live)
    assert frame is not first and not live.view.is_processing()
    assert previews and previews[-1] == (2, 2)  # the step previews reached the view
    assert _mask_bytes(frame.result.request.mask) == _mask_bytes(window.canvas.mask_image())
    assert frame.result.seed == 1 and frame.result.request.steps == 4  # fixed seed, low steps
    assert len(window.tree) == 1  # live results are not filed
    assert not window.busy  # the window's own runner never ran
    assert apply_button.isEnabled() and live.view.picture.has_image()
    assert "Edit → result" in live.view.latency_label.text()
    assert "few-step model" in live.view.note_label.text()

    # Apply: exactly one history entry, one undo step, the live result the next input.
    undo_steps = window.undo_stack.count()
    qtbot.mouseClick(apply_button, Qt.MouseButton.LeftButton)
    assert len(window.tree) == 2 and window.undo_stack.count() == undo_steps + 1
    record = window.tree.current
    assert record.parent_id == "root" and record.name.startswith("Live")
    assert np.array_equal(np.asarray(record.image), np.asarray(frame.result.image))
    assert record.mask is not None  # filed with the mask it was made with
    assert not apply_button.isEnabled()  # filed once
    window.undo_stack.undo()
    assert window.tree.current_id == "root" and len(window.tree) == 2
    live.button.click()
    assert not live.live and not live.view.isVisible()


def test_edits_restart_the_pass_and_record_writes_numbered_pngs(main_window, qtbot, tmp_path):
    window, live = main_window, main_window.live
    folder = tmp_path / "frames"
    live.choose_folder = lambda _parent: str(folder)
    live.view.record_button.click()
    assert live.recorder is not None and not live.view.record_label.isHidden()
    live.set_live(True)
    _wait_frame(qtbot, live)
    window.state.prompt = "another prompt"  # a panel parameter
    assert live.controller.frame is None and live.controller.loop.busy
    assert _wait_frame(qtbot, live).result.request.prompt == "another prompt"
    drag(window.canvas, [(20, 20), (50, 40)], tool="strength")  # a strength-map stroke
    frame = _wait_frame(qtbot, live)
    assert frame.result.request.strength_map is not None
    assert frame.result.record["kind"] == "differential"
    live.view.record_button.click()  # stop: waits for the writes
    assert live.recorder is None and live.view.record_label.isHidden()
    frames = sorted(p.name for p in folder.iterdir())
    assert frames == ["live_00001.png", "live_00002.png", "live_00003.png"]
    record = read_metadata(folder / frames[-1])["record"]
    assert record["kind"] == "differential" and record["prompt"] == "another prompt"
    assert len(window.tree) == 1


def test_three_quick_strokes_finish_at_most_one_stale_pass(main_window, qtbot, monkeypatch):
    window, live = main_window, main_window.live
    controller = live.controller
    submit = controller.worker.submit

    def submit_checked(job):  # never queued behind a stale one
        assert not controller.worker.busy
        submit(job)

    monkeypatch.setattr(controller.worker, "submit", submit_checked)
    live.set_live(True)
    _wait_frame(qtbot, live)  # the model is loaded now
    before = dataclasses.replace(controller.loop.counts)
    for k in range(3):
        drag(window.canvas, [(10 + 20 * k, 10), (20 + 20 * k, 50)])
        if k < 2:  # the next stroke lands while this stroke's pass runs
            qtbot.waitUntil(
                lambda: controller.loop.state is LiveState.RUNNING, timeout=ENGINE_TIMEOUT
            )
    frame = _wait_frame(qtbot, live)
    counts = controller.loop.counts
    assert counts.started - before.started == 3
    assert counts.finished - before.finished == 1
    stale = counts.stale_finished - before.stale_finished
    assert stale <= 1 and stale + counts.cancelled - before.cancelled == 2
    assert _mask_bytes(frame.result.request.mask) == _mask_bytes(window.canvas.mask_image())


def test_the_live_shortcut_is_free(main_window):
    taken = [
        (action.objectName() or action.text(), key.toString())
        for action in main_window.findChildren(QAction)
        for key in action.shortcuts()
        if action is not main_window.live.action
    ]
    assert QKeySequence(LIVE_SHORTCUT).toString() not in [key for _name, key in taken]
    assert main_window.live.action.shortcut().toString() == LIVE_SHORTCUT


def test_every_edit_source_reaches_live_mode_and_without_a_picture_it_says_why(empty_window, qtbot):
    window = empty_window
    live, loop = window.live, window.live.controller.loop
    live.set_live(True)
    qtbot.waitUntil(lambda: not loop.busy)  # the debounce elapsed; nothing could start
    assert "Open an image first" in live.view.error_label.text()
    assert loop.counts.started == 0
    edits = {
        "LoRA list": lambda: setattr(window.state.conditioning, "loras", (LoraSpec("a.st"),)),
        "undoable edit": lambda: window.undo_stack.push(QUndoCommand("an edit")),
        "strength": lambda: setattr(window.state, "strength", 0.3),
        "negative prompt": lambda: setattr(window.state, "negative_prompt", "blurry"),
        "strength map": window.canvas.strength_map_changed.emit,
        "mask": window.canvas.mask_changed.emit,
    }
    for name, edit in edits.items():
        edit()
        assert loop.pending, name
        qtbot.waitUntil(lambda: not loop.busy)
    window.state.seed_locked = False
    window.state.new_seed()  # a drawn seed does not change the live seed
    assert not loop.pending
    window.state.seed_locked = True
    window.state.seed = 12345  # the user's locked seed does
    assert loop.pending


def test_live_passes_run_on_the_same_model_spec_as_generate(main_window, qtbot):
    """The model choice is one ModelSpec: a live pass carries all of it (quantized weights and
    step caching included), so switching between live mode and Generate reloads nothing."""
    window, live = main_window, main_window.live
    window.state.update(memory="sequential", quantize="int8", speed="fast", device="cpu")
    jobs: list = []
    live.controller.worker.submit = jobs.append  # type: ignore[method-assign]
    live.set_live(True)
    qtbot.waitUntil(lambda: bool(jobs), timeout=10_000)
    spec = jobs[0].spec
    assert spec == window.state.model_spec()
    assert (spec.quantize, spec.speed, spec.memory) == ("int8", "fast", "sequential")
    live.set_live(False)
