"""Live mode and candidates in the window: the toggle, the view beside the canvas, the strip.

The window gives narrow inputs — the canvas (inside a :class:`LiveArea`), the runner (with its
tree, parameters and undo stack) — and places ``button``, ``candidate_count`` and ``action``.
Every edit signal of the input reaches the live controller: finished strokes and mask and
strength-map edits (the canvas's signals), any undoable edit (control layers, regions…), a new
input record, and the panel's parameters; no polling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QPushButton, QSpinBox, QSplitter, QWidget

from core.history import TreeChange, TreeEvent
from gui.canvas.canvas import Canvas
from gui.live.candidate_strip import CandidateStrip
from gui.live.candidates import Candidates
from gui.live.frame_recorder import FrameRecorder
from gui.live.live_controller import LiveController, LiveFrame
from gui.live.live_view import LiveView
from gui.params.state import GenerationParams
from gui.qt_helpers import named
from gui.run.runner import MAX_CANDIDATES, PassRunner

LIVE_SHORTCUT = "Ctrl+L"
# Panel fields that do not change a live pass's picture (the seed is handled on its own).
_NOT_INPUT = {"seed", "seed_locked", "fix_faces", "model"}
_CONDITIONING_FIELDS = ("loras", "controls", "references")


class LiveArea(QSplitter):
    """The canvas with the live result view beside it (shown while live mode is on)."""

    def __init__(self, canvas: Canvas, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("liveArea")
        self.canvas = canvas
        self.view = LiveView()
        self.addWidget(canvas)
        self.addWidget(self.view)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setChildrenCollapsible(False)
        self.view.hide()


def choose_record_folder(parent: QWidget) -> str:
    """Ask for the folder live frames are recorded into ("" when cancelled)."""
    return QFileDialog.getExistingDirectory(parent, "Record live frames into")


class LiveMode(QObject):
    """Live toggle (``liveButton``, Ctrl+L), the live view, Apply and Record, and candidates
    (``candidateCountBox`` sets the runner's ``candidate_count``: its Generate makes that many to
    pick from when above 1; the strip stages them)."""

    def __init__(self, area: LiveArea, runner: PassRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.area, self.view, self.canvas = area, area.view, area.canvas
        self.runner = runner
        self.controller = LiveController(runner, parent=self)
        self.candidates = Candidates(runner, self)
        self.strip = CandidateStrip(self.candidates, area.canvas)
        self.recorder: FrameRecorder | None = None
        self.choose_folder: Callable[[QWidget], str] = choose_record_folder
        self._window = parent

        # 1. The toggle: a checkable action (menu, shortcut) and a button beside Generate.
        self.action = named(QAction("Live mode", self), "liveAction")
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence(LIVE_SHORTCUT))
        self.action.setToolTip(f"Passes follow every edit ({LIVE_SHORTCUT})")
        self.button = named(QPushButton("Live"), "liveButton")
        self.button.setCheckable(True)
        self.button.setMinimumHeight(32)
        self.button.setStyleSheet(  # on at a glance
            "QPushButton#liveButton:checked { background: #2e7d32; color: white; "
            "font-weight: bold; border: 1px solid #1b5e20; border-radius: 3px; }"
        )
        self.button.setToolTip(f"Live mode: the result follows every edit ({LIVE_SHORTCUT})")
        self.action.toggled.connect(self.button.setChecked)
        self.button.toggled.connect(self.action.setChecked)
        self.action.toggled.connect(self.set_live)
        self.candidate_count = named(QSpinBox(), "candidateCountBox")
        self.candidate_count.setRange(1, MAX_CANDIDATES)
        self.candidate_count.setPrefix("× ")
        self.candidate_count.setMinimumHeight(32)
        self.candidate_count.setToolTip(
            "Candidates: Generate makes this many (seed, seed+1, …) to flip through and accept"
        )
        self.candidate_count.setValue(runner.candidate_count)
        self.candidate_count.valueChanged.connect(self._on_candidate_count_changed)

        # 2. The input's edit signals.
        controller = self.controller
        area.canvas.mask_changed.connect(controller.input_changed)
        area.canvas.strength_map_changed.connect(controller.input_changed)
        runner.undo_stack.indexChanged.connect(controller.input_changed)
        runner.tree.subscribe(self._on_tree_changed)
        self._watch_params(runner.params)

        # 3. What the controller reports goes to the view; the candidates to the canvas.
        controller.frame_ready.connect(self._on_frame)
        controller.preview.connect(self.view.show_preview)
        controller.processing_changed.connect(self.view.set_processing)
        controller.outdated.connect(self.view.set_outdated)
        controller.settings_changed.connect(self.view.set_note)
        controller.error.connect(self.view.show_error)
        self.view.apply_requested.connect(self.apply)
        self.view.record_toggled.connect(self._on_record_toggled)
        self.candidates.shown.connect(area.canvas.show_preview)

    # -- live mode ------------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.controller.enabled

    def set_live(self, on: bool) -> None:
        """Turn live mode on or off (the action and the button follow)."""
        self.action.setChecked(on)
        self.view.setVisible(on)
        if on:
            self.controller.learn(self._current_record_params())
        self.controller.set_enabled(on)
        if not on:
            self.stop_recording()

    def apply(self) -> str | None:
        """File the shown live result as a pass (and, when ticked, make it the next input: one
        undo step). Returns the new record's id."""
        frame = self.controller.frame
        if frame is None:
            return None
        result = frame.result
        make_input = self.view.make_input.isChecked()
        record = self.runner.file_result(
            frame.source_id, result, f"Live · seed {result.seed}", make_input
        )
        self.view.set_outdated()  # filed once: Apply again needs a new frame
        if record is None:
            return None
        self.runner.show_message(f"Kept the live result as {record.name}", 5000)
        return record.id

    def start_recording(self, folder: str | Path) -> None:
        """Write every following live frame into ``folder`` as live_00001.png, …"""
        self.stop_recording()
        self.recorder = FrameRecorder(folder)
        self.view.set_recording(str(self.recorder.folder))

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        self.view.set_recording(None)

    def shutdown(self) -> None:
        self.stop_recording()
        self.controller.shutdown()

    # -- reports --------------------------------------------------------------------------------
    def _on_frame(self, frame: LiveFrame) -> None:
        result = frame.result
        self.view.show_result(result.image, frame.latency, frame.duration, result.effective_steps)
        if self.recorder is not None:
            self.recorder.add(result.image, result.record)
            self.view.set_recording(str(self.recorder.folder), self.recorder.frames)
            if self.recorder.errors:
                self.view.show_error(f"Recording: {self.recorder.errors[-1]}")

    def _on_candidate_count_changed(self, count: int) -> None:
        self.runner.candidate_count = count  # Generate (the runner's) makes that many

    def _on_record_toggled(self, on: bool) -> None:
        if not on:
            self.stop_recording()
            return
        folder = self.choose_folder(self._window)
        if folder:
            self.start_recording(folder)
        else:
            self.view.set_recording(None)

    def _on_tree_changed(self, event: TreeEvent) -> None:
        if event.kind is TreeChange.SELECTED:  # a new input (Apply, Continue, an opened picture)
            self.controller.input_changed()

    def _watch_params(self, params: GenerationParams) -> None:
        for field in dataclasses.fields(params):
            if field.name not in _NOT_INPUT:
                params.subscribe(field.name, self.controller.input_changed)
        params.subscribe("seed", self._on_seed_changed)
        params.subscribe("model", self.controller.model_changed)
        for name in _CONDITIONING_FIELDS:
            params.conditioning.subscribe(name, self.controller.input_changed)

    def _on_seed_changed(self, _seed: int) -> None:
        if self.runner.params.seed_locked:  # the user's seed; a drawn one does not change live
            self.controller.input_changed()

    def _current_record_params(self) -> dict:
        current = self.runner.tree.current
        return {} if current is None else dict(current.params)
