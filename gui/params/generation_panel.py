"""The generation panel: model, prompts, denoise strength and presets, sampling, seed, work size,
mask options, device and precision.

Every widget is bound to one :class:`GenerationParams` through :func:`gui.params.bindings.bind`; the
panel holds no generation logic.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.presets import PRESETS, matching_preset
from core.requests import SCHEDULER_NAMES
from gui.params.bindings import bind
from gui.params.edit_models import (
    INSTRUCTION_PLACEHOLDER,
    is_edit_family,
    references_text,
    strength_unused,
    strength_unused_text,
)
from gui.params.model_picker import ModelPicker
from gui.params.seed_field import SeedField
from gui.params.state import DEVICES, PRECISIONS, GenerationParams
from gui.params.work_size import WorkSizeKey, WorkSizeLabel, work_size_combo
from gui.qt_helpers import named
from gui.reason_label import ReasonLabel

CFG_TOOLTIP = "Classifier-free guidance: how strictly to follow the prompt"


def _two_decimals(value: float) -> float:
    return round(float(value), 2)


class GenerationPanel(QWidget):
    """Edits a :class:`GenerationParams` (``state``: the runner builds the request from it);
    ``set_params`` restores.

    ``problem_changed`` carries the one-line reason the next pass cannot start ("" when it can).
    """

    problem_changed = Signal(str)

    def __init__(self, state: GenerationParams | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("generationPanel")
        self.state = state or GenerationParams()
        self.model_picker = ModelPicker(self.state)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(6, 6, 6, 6)
        column.setSpacing(4)
        column.addWidget(self._group("Model", self.model_picker))
        column.addWidget(self._build_prompts())
        column.addWidget(self._build_strength())
        column.addWidget(self._build_sampling())
        column.addWidget(self._build_mask_options())
        column.addWidget(self._build_advanced())
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.state.subscribe("strength", self._on_strength_changed)
        self.state.subscribe("steps", self._on_steps_changed)
        self.state.subscribe("inpaint_area", self._on_inpaint_area_changed)
        self.state.subscribe("work_size", self._on_work_size_changed)
        self.state.subscribe("model_family", self._on_model_family_changed)
        self.state.subscribe("cfg_unused", self._on_cfg_unused_changed)
        self._on_model_family_changed(self.state.model_family)
        self._on_cfg_unused_changed(self.state.cfg_unused)
        self._on_strength_changed(self.state.strength)
        self._on_inpaint_area_changed(self.state.inpaint_area)
        self.set_mask_present(False)
        self._on_work_size_changed(self.state.work_size)

    # -- building ---------------------------------------------------------------------------------
    @staticmethod
    def _group(title: str, *widgets: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        for widget in widgets:
            layout.addWidget(widget)
        return box

    def _build_prompts(self) -> QGroupBox:
        self.prompt_edit = named(QPlainTextEdit(), "promptEdit")
        self.prompt_edit.setPlaceholderText("Describe the whole final image…")
        self.prompt_edit.setToolTip("What the whole result should show (not only the change)")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setFixedHeight(58)
        self.negative_prompt_edit = named(QPlainTextEdit(), "negativePromptEdit")
        self.negative_prompt_edit.setPlaceholderText("Negative prompt: what to avoid…")
        self.negative_prompt_edit.setToolTip("What the result should avoid (blur, extra fingers…)")
        self.negative_prompt_edit.setTabChangesFocus(True)
        self.negative_prompt_edit.setFixedHeight(40)
        bind(self.state, "prompt", self.prompt_edit)
        bind(self.state, "negative_prompt", self.negative_prompt_edit)
        self.references_note = named(QLabel(), "editReferencesNote")
        self.references_note.setWordWrap(True)
        fields = (self.prompt_edit, self.references_note, self.negative_prompt_edit)
        self.prompt_group = named(self._group("Prompt", *fields), "promptGroup")
        return self.prompt_group

    def _build_strength(self) -> QGroupBox:
        self.strength_slider = named(QSlider(Qt.Orientation.Horizontal), "strengthSlider")
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setPageStep(5)
        self.strength_slider.setToolTip(
            "Denoise strength: how much the picture may change (0 keeps it, 1 redraws it)"
        )
        self.strength_spin = named(QDoubleSpinBox(), "strengthSpin")
        self.strength_spin.setRange(0.0, 1.0)
        self.strength_spin.setDecimals(2)
        self.strength_spin.setToolTip(self.strength_slider.toolTip())
        self.strength_spin.setSingleStep(0.01)
        self.steps_label = named(QLabel(), "effectiveStepsLabel")
        self.steps_label.setWordWrap(True)
        self._strength_map_present = False
        self._mask_present = False
        self.work_size_label = WorkSizeLabel(self.state)
        # Its line stays reserved while it is empty: the presets below never jump.
        policy = self.work_size_label.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.work_size_label.setSizePolicy(policy)
        bind(self.state, "strength", self.strength_slider, scale=100, convert=_two_decimals)
        bind(self.state, "strength", self.strength_spin, convert=_two_decimals)

        row = QHBoxLayout()
        row.addWidget(self.strength_slider, 1)
        row.addWidget(self.strength_spin)
        presets = QGridLayout()
        presets.setSpacing(4)
        self.preset_buttons: dict[str, QPushButton] = {}
        for index, preset in enumerate(PRESETS):
            button = QPushButton(preset.name)
            button.setObjectName("preset_" + preset.name.lower().replace(" ", "_"))
            button.setToolTip(preset.tooltip)
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, p=preset: self.apply_preset(p.name))
            presets.addWidget(button, index // 2, index % 2)
            self.preset_buttons[preset.name] = button

        box = self.strength_group = named(QGroupBox("Denoise strength"), "strengthGroup")
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.steps_label)
        layout.addWidget(self.work_size_label)
        layout.addLayout(presets)
        return box

    def _build_sampling(self) -> QGroupBox:
        self.steps_spin = named(QSpinBox(), "stepsSpin")
        self.steps_spin.setRange(1, 1000)
        self.steps_spin.setToolTip("Scheduler steps; img2img runs strength × steps of them")
        self.cfg_spin = named(QDoubleSpinBox(), "cfgSpin")
        self.cfg_spin.setRange(0.0, 50.0)
        self.cfg_spin.setDecimals(1)
        self.cfg_spin.setSingleStep(0.5)
        self.cfg_spin.setToolTip(CFG_TOOLTIP)
        self.cfg_note = named(QLabel(), "cfgNoteLabel")  # why CFG does not apply, if it does not
        self.cfg_note.setWordWrap(True)
        self.scheduler_combo = named(QComboBox(), "schedulerCombo")
        self.scheduler_combo.addItems(SCHEDULER_NAMES)
        self.scheduler_combo.setToolTip("The sampler that walks the denoising steps")
        self.seed_field = SeedField(self.state)  # typed = locked; unlocked reads "random"
        self.seed_spin = self.seed_field.spin
        self.seed_lock_button = self.seed_field.lock_button
        self.new_seed_button = named(QToolButton(), "newSeedButton")
        self.new_seed_button.setText("New")
        self.new_seed_button.setToolTip("Draw a new random seed and lock it")
        self.new_seed_button.clicked.connect(self._on_new_seed_clicked)
        self.work_size_combo = work_size_combo(self.state)
        self.params_reason_label = ReasonLabel("paramsReasonLabel")
        self.fix_faces_check = named(QCheckBox("Fix faces after each pass"), "fixFacesCheck")
        self.fix_faces_check.setToolTip(
            "Then refine each face found at full detail, gently; nothing else changes"
        )
        bind(self.state, "fix_faces", self.fix_faces_check)

        bind(self.state, "steps", self.steps_spin)
        bind(self.state, "cfg", self.cfg_spin, convert=lambda v: round(float(v), 1))
        bind(self.state, "scheduler", self.scheduler_combo)

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.seed_lock_button)
        seed_row.addWidget(self.new_seed_button)
        box = QGroupBox("Sampling")
        form = QFormLayout(box)
        form.addRow("Steps", self.steps_spin)
        form.addRow("CFG scale", self.cfg_spin)
        form.addRow(self.cfg_note)
        form.addRow("Sampler", self.scheduler_combo)
        form.addRow("Seed", seed_row)
        form.addRow("Work size", self.work_size_combo)
        form.addRow(self.fix_faces_check)
        form.addRow(self.params_reason_label)
        return box

    def _build_mask_options(self) -> QGroupBox:
        self.mask_blur_spin = named(QSpinBox(), "maskBlurSpin")
        self.mask_blur_spin.setRange(0, 256)
        self.mask_blur_spin.setSuffix(" px")
        self.mask_blur_spin.setToolTip("Feather the mask edge so the change blends in")
        self.whole_radio = named(QRadioButton("Whole picture"), "inpaintWholeRadio")
        self.whole_radio.setToolTip("Generate the whole picture; the unmasked part is kept")
        self.masked_radio = named(QRadioButton("Only masked"), "inpaintMaskedRadio")
        self.masked_radio.setToolTip(
            "Generate only a crop around the mask at full resolution, then paste it back"
        )
        self.whole_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.whole_radio)
        group.addButton(self.masked_radio)
        self.padding_spin = named(QSpinBox(), "paddingSpin")
        self.padding_spin.setRange(0, 1024)
        self.padding_spin.setSuffix(" px")
        self.padding_spin.setToolTip("Context around the mask for 'Only masked'")
        self.soft_inpaint_check = named(QCheckBox("Soft inpainting"), "softInpaintCheck")
        self.soft_inpaint_check.setToolTip(
            "Use the blurred mask as per-pixel strength: the edge fades in without a seam"
        )
        bind(self.state, "soft_inpaint", self.soft_inpaint_check)
        self.color_match_check = named(QCheckBox("Colour match"), "colorMatchCheck")
        self.color_match_check.setToolTip(
            "Match the repainted area's colours to the picture around it, so the edge does not "
            "show (masked passes only). Turn off to keep the model's exact colours."
        )
        bind(self.state, "color_match", self.color_match_check)

        bind(self.state, "mask_blur", self.mask_blur_spin)
        bind(self.state, "padding", self.padding_spin)
        bind(
            self.state,
            "inpaint_area",
            self.masked_radio,
            getter=lambda: "masked" if self.masked_radio.isChecked() else "whole",
            setter=lambda v: (self.masked_radio if v == "masked" else self.whole_radio).setChecked(
                True
            ),
            signal=self.masked_radio.toggled,
        )
        self.mask_group = named(QGroupBox("Mask"), "maskOptionsGroup")
        grid = QGridLayout(self.mask_group)
        grid.addWidget(QLabel("Blur"), 0, 0)
        grid.addWidget(self.mask_blur_spin, 0, 1)
        grid.addWidget(QLabel("Padding"), 0, 2)
        grid.addWidget(self.padding_spin, 0, 3)
        grid.addWidget(self.whole_radio, 1, 0, 1, 2)
        grid.addWidget(self.masked_radio, 1, 2, 1, 2)
        grid.addWidget(self.soft_inpaint_check, 2, 0, 1, 4)
        grid.addWidget(self.color_match_check, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return self.mask_group

    def _build_advanced(self) -> QGroupBox:
        self.device_combo = named(QComboBox(), "deviceCombo")
        self.device_combo.addItems(DEVICES)
        self.device_combo.setToolTip(
            "Where the model runs: auto picks CUDA, then Apple MPS, then the CPU"
        )
        self.precision_combo = named(QComboBox(), "precisionCombo")
        self.precision_combo.addItems(PRECISIONS)
        self.precision_combo.setToolTip(
            "Number format of the weights: auto is fp16 on CUDA and fp32 elsewhere"
        )
        bind(self.state, "device", self.device_combo)
        bind(self.state, "dtype", self.precision_combo)
        box = named(QGroupBox("Advanced"), "advancedGroup")
        form = QFormLayout(box)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        return box

    # -- public API ---------------------------------------------------------------------------
    def set_params(self, params: dict[str, Any]) -> None:
        """Restore parameters (saved settings, or ``parsed`` metadata of a PNG)."""
        self.state.restore(params)

    def apply_preset(self, name: str) -> None:
        for preset in PRESETS:
            if preset.name == name:
                self.state.strength = preset.strength
        self._on_strength_changed(self.state.strength)

    def new_seed(self) -> int:
        """Draw and show a fresh random seed."""
        return self.state.new_seed()

    def seed_for_next_pass(self) -> int:
        """The seed to use: the shown one when locked, else a fresh one (shown too)."""
        return self.state.seed_for_next_pass()

    def problem(self) -> str | None:
        """Why the next pass cannot start as set (shown under the fields), or None."""
        return self.state.problem()

    def set_picture_size(self, size: tuple[int, int] | None) -> None:
        """The size of the picture the next pass starts from, for the work-size label."""
        self.work_size_label.set_picture_size(size)

    def remember_work_size(self, key: WorkSizeKey, work: tuple[int, int]) -> None:
        """The size a pass really worked at (its PassStarted event), shown from now on."""
        self.work_size_label.remember(key, work)

    def set_strength_map_present(self, present: bool) -> None:
        """Say under the slider when a Region strength map on the canvas replaces it."""
        self._strength_map_present = present
        self._on_steps_changed(self.state.steps)

    def set_mask_present(self, present: bool) -> None:
        """Show the mask options only while the canvas has a mask."""
        self._mask_present = present
        self.mask_group.setVisible(present)
        self._update_strength_enabled()

    # -- handlers -----------------------------------------------------------------------------
    def _on_strength_changed(self, _value: float) -> None:
        self._on_steps_changed(self.state.steps)
        match = matching_preset(self.state.strength)
        for name, button in self.preset_buttons.items():
            button.setChecked(match is not None and match.name == name)

    def _on_steps_changed(self, _value: int) -> None:
        effective, total = self.state.effective_steps, self.state.steps
        text = f"{effective} of {total} steps will run"
        if effective == 0:
            text += " (the image comes back unchanged)"
        family = self.state.model_family
        if strength_unused(family, self._mask_present):
            text = strength_unused_text(family)
        elif self._strength_map_present:
            text = (
                "A Region strength map is painted on the canvas: it sets the strength where "
                "painted (unpainted areas stay as they are), so this slider is not used. "
                "Clear map (strength toolbar) to use it again."
            )
        self.steps_label.setText(text)

    def _on_model_family_changed(self, family: str) -> None:
        """An edit model: the prompt is an instruction and the strength is not used."""
        edit = is_edit_family(family)
        self.prompt_group.setTitle("Instruction" if edit else "Prompt")
        self.prompt_edit.setPlaceholderText(
            INSTRUCTION_PLACEHOLDER if edit else "Describe the whole final image…"
        )
        self.prompt_edit.setToolTip(
            "What to change in the picture (the rest stays as it is)"
            if edit
            else "What the whole result should show (not only the change)"
        )
        self.references_note.setText(references_text(family) if edit else "")
        self.references_note.setVisible(edit)
        self._update_strength_enabled()

    def _on_cfg_unused_changed(self, reason: str) -> None:
        """A model that runs without CFG (distilled, few-step): the field is greyed out and the
        line under it says why."""
        self.cfg_spin.setEnabled(not reason)
        self.cfg_spin.setToolTip(reason or CFG_TOOLTIP)
        self.cfg_note.setText(reason)
        self.cfg_note.setVisible(bool(reason))

    def _update_strength_enabled(self) -> None:
        """The strength controls are greyed out while the next pass ignores the strength."""
        unused = strength_unused(self.state.model_family, self._mask_present)
        for widget in (self.strength_slider, self.strength_spin, *self.preset_buttons.values()):
            widget.setEnabled(not unused)
        self._on_steps_changed(self.state.steps)

    def _on_new_seed_clicked(self) -> None:
        self.new_seed()
        self.state.seed_locked = True  # shown, so it is the one the next pass uses

    def _on_work_size_changed(self, _value: str) -> None:
        problem = self.problem()
        self.params_reason_label.set_reason(problem)
        self.problem_changed.emit(problem or "")

    def _on_inpaint_area_changed(self, area: str) -> None:
        self.padding_spin.setEnabled(area == "masked")
