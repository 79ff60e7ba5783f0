"""The memory mode control: how the model is spread over GPU and CPU memory, and which mode (and
model family) the last pass really used."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.history import PassTree, TreeChange, TreeEvent
from core.requests import MEMORY_MODES, QUANTIZE_MODES, SPEED_MODES
from gui.params.bindings import bind
from gui.params.model_entries import family_label
from gui.params.state import GenerationParams
from gui.qt_helpers import named, plain

MEMORY_HINTS: dict[str, str] = {
    "auto": "chosen from the free GPU and system memory when the model loads",
    "none": "the whole model on the device: fastest, needs the most GPU memory",
    "offload": "model CPU offload: each part moves to the GPU only while it runs",
    "group": "group offload: one block at a time on the GPU, the next copied in meanwhile",
    "sequential": "sequential offload: layer by layer; the least GPU memory, the slowest",
    "tiling": "VAE tiling and slicing: big pictures decode in pieces",
}
QUANTIZE_HINTS: dict[str, str] = {
    "none": "weights as loaded (a .gguf file is quantized already)",
    "int8": "torchao int8 weight-only: about half the memory; runs on CPUs too",
    "fp8": "torchao fp8 weight-only: half the memory, fast on recent NVIDIA GPUs (CUDA only)",
    "nf4": "bitsandbytes 4-bit: a quarter of the memory, a little softer (CUDA only)",
}
SPEED_HINTS: dict[str, str] = {
    "off": "every step computes the whole model",
    "fast": "First-Block Cache: skips steps that barely change (transformer models only)",
    "fastest": "TaylorSeer: predicts most steps; softer fine detail (transformer models only)",
}
COMPILE_HINT = (
    "Compile the model's repeated blocks on the GPU (regional compilation): after the model "
    "loads, a one-step warm-up pass compiles them at the open picture's size, so passes run "
    "faster from the first Generate; the compiled kernels are kept for the next start"
)
NO_NVIDIA = "Compiling needs an NVIDIA GPU with CUDA: none was found on this computer"
NOT_ON_DEVICE = "Compiling runs on CUDA only: choose the device auto or cuda"
NOT_RUN_YET = "No pass has run yet"
# The mode a pass used, in words (the combo's names are short: "none" is no offloading).
MODE_WORDS: dict[str, str] = {
    "none": "whole model on the device",
    "offload": "CPU offload",
    "group": "group offload",
    "sequential": "sequential offload",
    "tiling": "VAE tiling",
}


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA driver is installed (told without importing torch)."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia")


def compile_unavailable(device: str, nvidia: bool) -> str | None:
    """Why compiling cannot run with ``device`` here (None: it can)."""
    if not nvidia:
        return NO_NVIDIA
    return None if device in ("auto", "cuda") else NOT_ON_DEVICE


def in_use_text(params: Mapping[str, Any]) -> str | None:
    """The mode in use, "Last pass: CPU offload, SDXL model", from a pass record (None: it
    names none)."""
    model = params.get("model")
    if not isinstance(model, Mapping) or not model.get("memory"):
        return None
    mode, _, storage = str(model["memory"]).partition("+")  # "group+fp8": fp8 weight storage
    words = MODE_WORDS.get(mode, mode) + (f", {storage} weights" if storage else "")
    family = str(model.get("family") or "")
    suffix = f", {family_label(family)} model" if family else ""
    return f"Last pass: {words}{suffix}"


class MemoryModeBox(QWidget):
    """A combo bound to ``GenerationParams.memory`` and a label with the mode the last pass used
    (read from each new record in ``tree``)."""

    def __init__(
        self, state: GenerationParams, tree: PassTree | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("memoryModeBox")
        self.combo = named(QComboBox(), "memoryCombo")
        self.combo.addItems(MEMORY_MODES)
        for index, mode in enumerate(MEMORY_MODES):
            self.combo.setItemData(index, MEMORY_HINTS.get(mode, mode), Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip(
            "Memory mode: how the model is spread over GPU and CPU memory (auto picks one "
            "from the free memory; offload and sequential need less GPU memory but run slower)"
        )
        self.in_use_label = plain(named(QLabel(NOT_RUN_YET), "memoryInUseLabel"))
        self.in_use_label.setToolTip("The memory mode and model family of the last pass")
        bind(state, "memory", self.combo)
        self.quantize_combo = _choice_combo("quantizeCombo", QUANTIZE_MODES, QUANTIZE_HINTS)
        self.quantize_combo.setToolTip("Weights: quantized to fit big models in less memory")
        bind(state, "quantize", self.quantize_combo)
        self.speed_combo = _choice_combo("speedCombo", SPEED_MODES, SPEED_HINTS)
        self.speed_combo.setToolTip("Speed: step caching for transformer models (FLUX, SD 3.5…)")
        bind(state, "speed", self.speed_combo)
        self.oom_retry_check = named(QCheckBox("Out of memory: retry lighter"), "oomRetryCheck")
        self.oom_retry_check.setToolTip(
            "When the GPU runs out of memory, run the pass once more in the next lighter memory "
            "mode (whole model → VAE tiling → CPU offload → group → sequential) instead of "
            "stopping; the "
            "pass's record says which mode it used"
        )
        bind(state, "oom_retry", self.oom_retry_check)
        self.compile_check = named(QCheckBox("Compile (CUDA)"), "compileCheck")
        bind(state, "compile", self.compile_check)
        self._nvidia = nvidia_driver_present()
        self._state = state
        self._show_compile_reason()
        off_device = state.subscribe("device", lambda _value: self._show_compile_reason())
        self.destroyed.connect(lambda *_: off_device())
        column = QVBoxLayout(self)  # the mode in use on its own line: it is read in full
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Memory"))
        row.addWidget(self.combo, 1)
        column.addLayout(row)
        choices = QHBoxLayout()
        choices.addWidget(QLabel("Weights"))
        choices.addWidget(self.quantize_combo, 1)
        choices.addWidget(QLabel("Speed"))
        choices.addWidget(self.speed_combo, 1)
        column.addLayout(choices)
        checks = QHBoxLayout()
        checks.addWidget(self.oom_retry_check)
        checks.addWidget(self.compile_check)
        checks.addStretch(1)
        column.addLayout(checks)
        column.addWidget(self.in_use_label)
        if tree is not None:
            unsubscribe = tree.subscribe(self._on_tree_changed)
            self.destroyed.connect(lambda *_: unsubscribe())

    def _show_compile_reason(self) -> None:
        """Compiling is offered only where it can run; otherwise greyed out, saying why."""
        reason = compile_unavailable(self._state.device, self._nvidia)
        self.compile_check.setEnabled(reason is None)
        self.compile_check.setToolTip(COMPILE_HINT if reason is None else reason)

    def show_pass(self, params: Mapping[str, Any]) -> None:
        """Show the mode and family a pass's record names (records without one change nothing)."""
        text = in_use_text(params)
        if text is not None:
            self.in_use_label.setText(text)
            reason = params.get("model", {}).get("memory_reason") or ""
            why = f": {reason}" if reason else ""
            self.in_use_label.setToolTip(f"The memory mode and model family of the last pass{why}")

    def _on_tree_changed(self, event: TreeEvent) -> None:
        if event.kind is TreeChange.ADDED and event.record.is_root:  # a new picture or project
            self.in_use_label.setText(NOT_RUN_YET)
        elif event.kind is TreeChange.ADDED:
            self.show_pass(event.record.params)


def _choice_combo(name: str, choices: tuple[str, ...], hints: Mapping[str, str]) -> QComboBox:
    combo = named(QComboBox(), name)
    combo.addItems(choices)
    for index, choice in enumerate(choices):
        combo.setItemData(index, hints.get(choice, choice), Qt.ItemDataRole.ToolTipRole)
    return combo
