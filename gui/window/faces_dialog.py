"""Workflows › Fix faces…: the faces found in the picture, their settings, and Run.

A non-modal panel next to the canvas. While it is shown the canvas's face boxes
(gui.canvas.face_boxes) are active: the detected boxes are drawn on the picture, where they can
be selected, removed (Delete), moved, resized, and added by a drag after "Add face". Detection
runs on a thread-pool thread (OpenCV, no model). Run emits ``run_requested`` with the boxes and
settings; the Workflows menu runs them through the workflow controller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QSignalBlocker, Qt, QThreadPool, Signal
from PySide6.QtGui import QCloseEvent, QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.imaging.faces import FaceBox, detect_faces, detector_name
from core.requests import effective_steps
from core.workflows.faces import FACE_PADDING, FACE_STRENGTH, MAX_FACES
from gui.canvas.face_boxes import FaceBoxOverlay
from gui.qt_helpers import named, plain
from gui.reason_label import ReasonLabel
from gui.window.workflow_dialogs import _pixel_spin
from gui.window.workflow_settings import steps_text

EDIT_HINT = "Drag a box to move it, its corner to resize it; Delete removes the selected one."


@dataclass(frozen=True)
class FaceRunSettings:
    """What Run refines: the boxes (picture px), the strength, an optional prompt, the padding."""

    boxes: tuple[FaceBox, ...]
    strength: float
    prompt: str
    padding: int


class _DetectionSignals(QObject):
    done = Signal(int, object)  # detection number, list[FaceBox]
    failed = Signal(int, str)  # detection number, one-line reason


class _Detection(QRunnable):
    """Finds the faces of one picture on a thread-pool thread."""

    def __init__(self, number: int, image: Image.Image, signals: _DetectionSignals) -> None:
        super().__init__()
        self.number, self.image, self.signals = number, image, signals

    def run(self) -> None:
        try:
            boxes = detect_faces(self.image)
        except Exception as exc:  # a broken detector file (one line) or OpenCV install
            self.signals.failed.emit(self.number, f"face detection failed: {exc}")
            return
        self.signals.done.emit(self.number, boxes)


class FacesDialog(QDialog):
    """The face boxes' list and settings; ``detect(image)`` finds the faces, Run runs them."""

    run_requested = Signal(object)  # FaceRunSettings
    detection_finished = Signal(int)  # how many faces were found

    def __init__(
        self,
        overlay: FaceBoxOverlay,
        picture: Callable[[], Image.Image | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("facesDialog")
        self.setWindowTitle("Fix faces")
        self.setModal(False)
        self.overlay = overlay
        self._picture = picture
        self._steps = 30
        self._running = False
        self._detecting = False
        self._detections = 0  # the number of the latest detection: older answers are ignored
        self._signals = _DetectionSignals()  # no parent: outlives the dialog while a run ends
        self._signals.done.connect(self._on_detected)
        self._signals.failed.connect(self._on_detection_failed)

        # 1. The boxes: status, list, and the edits.
        self.status_label = plain(named(QLabel(), "facesStatusLabel"))
        self.status_label.setWordWrap(True)
        self.box_list = named(QListWidget(), "facesList")
        self.box_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.box_list.setMinimumHeight(90)
        self.add_button = named(QPushButton("Add face"), "facesAddButton")
        self.add_button.setCheckable(True)
        self.add_button.setToolTip("Then drag on the picture to draw a face box")
        self.remove_button = named(QPushButton("Remove"), "facesRemoveButton")
        self.remove_button.setToolTip("Remove the selected boxes (Delete on the canvas)")
        self.detect_button = named(QPushButton("Detect again"), "facesDetectButton")
        self.detect_button.setToolTip("Find the faces of the current input again")
        edits = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.detect_button):
            edits.addWidget(button)

        # 2. The settings.
        self.strength_spin = named(QDoubleSpinBox(), "facesStrengthSpin")
        self.strength_spin.setRange(0.05, 1.0)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setValue(FACE_STRENGTH)
        self.strength_spin.setToolTip("Low keeps the person recognisable (0.3–0.4)")
        self.steps_label = named(QLabel(), "facesStepsLabel")
        self.prompt_edit = named(QLineEdit(), "facesPromptEdit")
        self.prompt_edit.setPlaceholderText("optional, e.g. detailed face, sharp eyes")
        self.prompt_edit.setToolTip("Empty: the faces use the pass's prompt")
        self.padding_spin = _pixel_spin("facesPaddingSpin", 0, 1024, 8, FACE_PADDING)
        self.padding_spin.setToolTip("Context around each face that the model sees")
        form = QFormLayout()
        form.addRow("Strength", self.strength_spin)
        form.addRow("", self.steps_label)
        form.addRow("Face prompt", self.prompt_edit)
        form.addRow("Padding", self.padding_spin)

        # 3. Run and Close.
        self.reason_label = ReasonLabel("facesReasonLabel")
        self.run_button = named(QPushButton("Run"), "facesRunButton")
        self.run_button.setDefault(True)
        self.close_button = named(QPushButton("Close"), "facesCloseButton")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.box_list, 1)
        layout.addLayout(edits)
        layout.addLayout(form)
        layout.addWidget(self.reason_label)
        layout.addLayout(buttons)
        self.resize(340, 420)

        # 4. Wiring.
        overlay.changed.connect(self._on_boxes_changed)
        overlay.selection_changed.connect(self._on_overlay_selection_changed)
        overlay.add_mode_changed.connect(self._on_add_mode_changed)
        self.box_list.itemSelectionChanged.connect(self._on_list_selection_changed)
        self.add_button.toggled.connect(overlay.set_add_mode)
        self.remove_button.clicked.connect(self.remove_selected)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.box_list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)
        self.detect_button.clicked.connect(self.detect_again)
        self.strength_spin.valueChanged.connect(self._validate)
        self.run_button.clicked.connect(self.run)
        self.close_button.clicked.connect(self.close)
        self._on_boxes_changed()

    # -- detection ------------------------------------------------------------------------------
    def detect(self, image: Image.Image) -> None:
        """Find the faces of ``image`` off the GUI thread; the boxes replace the drawn ones."""
        self._detections += 1
        self._detecting = True
        self.overlay.set_boxes([])
        self.status_label.setText("Looking for faces…")
        self._validate()
        QThreadPool.globalInstance().start(_Detection(self._detections, image, self._signals))

    def detect_again(self) -> None:
        """Detect on the current input again."""
        image = self._picture()
        if image is not None:
            self.detect(image)

    def is_detecting(self) -> bool:
        return self._detecting

    def _on_detected(self, number: int, boxes: list[FaceBox]) -> None:
        if number != self._detections:
            return
        self._detecting = False
        self.overlay.set_boxes(boxes)
        count = len(boxes)
        if count:
            found = f"{count} face{'' if count == 1 else 's'} found ({detector_name()})."
            self.status_label.setText(f"{found} {EDIT_HINT}")
        else:
            self.status_label.setText("No face found: draw one with Add face.")
        self._validate()
        self.detection_finished.emit(count)

    def _on_detection_failed(self, number: int, reason: str) -> None:
        if number == self._detections:
            self._detecting = False
            self.status_label.setText(f"{reason}. Draw the faces with Add face.")
            self._validate()
            self.detection_finished.emit(0)

    # -- settings and run -----------------------------------------------------------------------
    def set_steps(self, steps: int) -> None:
        """The generation panel's steps (for the "→ n steps" line)."""
        self._steps = int(steps)
        self._validate()

    def settings(self) -> FaceRunSettings:
        return FaceRunSettings(
            tuple(self.overlay.boxes()),
            round(self.strength_spin.value(), 2),
            self.prompt_edit.text().strip(),
            self.padding_spin.value(),
        )

    def reason(self) -> str:
        """Why Run is disabled ("" when it can run)."""
        return self.reason_label.text()

    def run(self) -> None:
        """Emit ``run_requested`` with the boxes and settings (when they can run)."""
        if self._validate() is None:
            self.run_requested.emit(self.settings())

    def set_running(self, running: bool) -> None:
        """A workflow is running: Run and Detect again wait for it."""
        self._running = running
        self._validate()

    def remove_selected(self) -> None:
        self.overlay.remove_selected()

    def _validate(self) -> str | None:
        strength = round(self.strength_spin.value(), 2)
        self.steps_label.setText(steps_text(strength, self._steps))
        count = len(self.overlay.boxes())
        reason = None
        if self._detecting:
            reason = "looking for faces…"
        elif count == 0:
            reason = "no face to fix: draw a box with Add face"
        elif count > MAX_FACES:
            reason = f"at most {MAX_FACES} faces per run: remove {count - MAX_FACES}"
        elif effective_steps(self._steps, strength) == 0:
            reason = f"strength {strength:.2f} runs 0 steps: raise it"
        self.reason_label.set_reason(None if self._running else reason)
        self.run_button.setEnabled(reason is None and not self._running)
        self.detect_button.setEnabled(not self._running)
        return "a pass is running" if self._running else reason

    # -- the list mirrors the boxes -------------------------------------------------------------
    def _on_boxes_changed(self) -> None:
        with QSignalBlocker(self.box_list):
            self.box_list.clear()
            for index, box in enumerate(self.overlay.boxes(), 1):
                self.box_list.addItem(
                    f"Face {index} · {box.confidence:.0%} · {box.w}×{box.h} at ({box.x}, {box.y})"
                )
        self._on_overlay_selection_changed()
        self.remove_button.setEnabled(self.box_list.count() > 0)
        self._validate()

    def _on_overlay_selection_changed(self) -> None:
        chosen = set(self.overlay.selected_indices())
        with QSignalBlocker(self.box_list):
            for row in range(self.box_list.count()):
                self.box_list.item(row).setSelected(row in chosen)

    def _on_list_selection_changed(self) -> None:
        rows = [self.box_list.row(item) for item in self.box_list.selectedItems()]
        self.overlay.select(rows)

    def _on_add_mode_changed(self, on: bool) -> None:
        with QSignalBlocker(self.add_button):
            self.add_button.setChecked(on)

    # -- shown: the canvas edits the boxes ------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        self.overlay.set_active(True)
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt override)
        self.overlay.set_active(False)
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.overlay.set_active(False)
        super().closeEvent(event)
