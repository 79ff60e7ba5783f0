"""The work-size control and label: the size the model generates at (``core.work_size``).

The combo offers Auto and Input size and takes a typed WxH; the label says what that means for
the open picture and the chosen model ("works at 592×440 → returns 4000×3000"). Before a pass
ran, the model's native size is guessed from its files; once a pass started, the size the engine
really used is shown for that picture, model and setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from core.errors import InvalidRequest
from core.library.native_size import native_size_of
from core.work_size import AUTO, INPUT, choose_work_size
from gui.params.bindings import bind
from gui.params.state import GenerationParams
from gui.qt_helpers import named

_LABELS = {AUTO: "Auto", INPUT: "Input size"}


@dataclass(frozen=True)
class WorkSizeKey:
    """What a work size depends on: the picture's size, the model and the setting."""

    picture: tuple[int, int]
    model: str
    setting: str


def setting_of(text: str) -> str:
    """The setting a combo text stands for ("Auto" → "auto", "Input size" → "input")."""
    stripped = text.strip()
    for setting, label in _LABELS.items():
        if stripped.lower() in (setting, label.lower()):
            return setting
    return stripped


def label_of(setting: str) -> str:
    """The combo text for a setting ("auto" → "Auto"; a WxH stays as typed)."""
    return _LABELS.get(setting, setting)


def work_size_text(picture: tuple[int, int], work: tuple[int, int]) -> str:
    text = f"works at {work[0]}×{work[1]}"
    if work != picture:
        text += f" → returns {picture[0]}×{picture[1]}"
    return text


def work_size_combo(state: GenerationParams) -> QComboBox:
    """An editable combo (``workSizeCombo``) bound to ``state.work_size``."""
    combo = named(QComboBox(), "workSizeCombo")
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.addItems(list(_LABELS.values()))
    combo.setToolTip(
        "The size the model generates at; the result comes back at the picture's size.\n"
        "Auto: the picture's size when it suits the model, else about the model's native area.\n"
        "Input size: the picture's own size. Or type a size such as 768x512."
    )
    bind(
        state,
        "work_size",
        combo,
        getter=lambda: setting_of(combo.currentText()),
        setter=lambda setting: combo.setCurrentText(label_of(setting)),
        signal=combo.currentTextChanged,
    )
    return combo


class WorkSizeLabel(QLabel):
    """Shows the work size of the next pass for the picture set by ``set_picture_size``."""

    def __init__(self, state: GenerationParams, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workSizeLabel")
        self.setToolTip("The size the model works at, and the size the result comes back at")
        self._state = state
        self._picture: tuple[int, int] | None = None
        self._seen: dict[WorkSizeKey, tuple[int, int]] = {}
        self._native: tuple[str, int] | None = None  # the last model guessed, and its guess
        unsubscribe = [
            state.subscribe(name, lambda _value: self.refresh()) for name in ("model", "work_size")
        ]
        # Drop the subscriptions with the label, so a dead label is never refreshed.
        self.destroyed.connect(lambda *_: [drop() for drop in unsubscribe])
        self.refresh()

    def set_picture_size(self, size: tuple[int, int] | None) -> None:
        """The size of the picture the next pass starts from (None: no picture)."""
        self._picture = None if size is None else (int(size[0]), int(size[1]))
        self.refresh()

    def key(self) -> WorkSizeKey | None:
        """The current picture, model and setting (None without a picture)."""
        if self._picture is None:
            return None
        return WorkSizeKey(self._picture, self._state.model, self._state.work_size)

    def remember(self, key: WorkSizeKey, work: tuple[int, int]) -> None:
        """The size a pass really worked at for ``key`` (from its PassStarted event)."""
        self._seen[key] = (int(work[0]), int(work[1]))
        self.refresh()

    def work_size(self) -> tuple[int, int] | None:
        """The size the next pass works at: the one seen for this key, else the estimate."""
        key = self.key()
        if key is None:
            return None
        if key in self._seen:
            return self._seen[key]
        try:
            return choose_work_size(key.picture, key.setting, self._native_size(key.model))
        except InvalidRequest:
            return None  # the panel shows why

    def refresh(self) -> None:
        work = self.work_size()
        picture = self._picture
        text = "" if work is None or picture is None else work_size_text(picture, work)
        self.setText(text)
        if self.parentWidget() is not None:  # a parentless label would show as a window
            self.setVisible(bool(text))

    def _native_size(self, model: str) -> int:
        if self._native is None or self._native[0] != model:
            self._native = (model, native_size_of(model))
        return self._native[1]
