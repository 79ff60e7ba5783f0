"""The one helper that binds widgets to the fields of observable state (``core.observable``).

``bind(state, "strength", slider, scale=100)`` keeps a widget and a field in sync both ways: a
widget edit writes the field, a field change updates every bound widget with its signals blocked
(so nothing loops and text cursors are not reset when the value did not change).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSignalBlocker, SignalInstance
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from core.observable import Observable

Accessors = tuple[Callable[[], Any], Callable[[Any], Any], SignalInstance]


def _accessors(widget: QWidget, scale: float | None) -> Accessors:
    """(getter, setter, change signal) for the common widget kinds."""
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText, widget.setPlainText, widget.textChanged
    if isinstance(widget, QLineEdit):
        return widget.text, widget.setText, widget.textChanged
    if isinstance(widget, QComboBox):
        return widget.currentText, widget.setCurrentText, widget.currentTextChanged
    if isinstance(widget, QDoubleSpinBox):
        return widget.value, widget.setValue, widget.valueChanged
    if isinstance(widget, QAbstractButton) and widget.isCheckable():
        return widget.isChecked, widget.setChecked, widget.toggled
    if isinstance(widget, (QSpinBox, QAbstractSlider)):
        if scale:
            factor, numeric = scale, widget
            return (
                lambda: numeric.value() / factor,
                lambda value: numeric.setValue(round(value * factor)),
                numeric.valueChanged,
            )
        return widget.value, widget.setValue, widget.valueChanged
    raise TypeError(f"cannot bind a {type(widget).__name__}")


def bind(
    state: Observable,
    name: str,
    widget: QWidget,
    *,
    scale: float | None = None,
    convert: Callable[[Any], Any] | None = None,
    getter: Callable[[], Any] | None = None,
    setter: Callable[[Any], None] | None = None,
    signal: SignalInstance | None = None,
) -> Callable[[], None]:
    """Keep ``widget`` and ``state.<name>`` in sync both ways; returns an unbind function.

    ``scale`` maps an integer widget to a float field (slider 0–100 ↔ 0.0–1.0); ``convert`` turns
    the widget's value into the field's type; ``getter``/``setter``/``signal`` override the widget
    accessors for widgets the helper does not know.
    """
    if getter is not None and setter is not None and signal is not None:
        get, put, changed = getter, setter, signal
    else:
        default_get, default_set, default_signal = _accessors(widget, scale)
        get = getter or default_get
        put = setter or default_set
        changed = signal or default_signal
    to_field: Callable[[Any], Any] = convert or (lambda value: value)

    def _on_widget_changed(*_args: Any) -> None:
        setattr(state, name, to_field(get()))

    def _on_field_changed(value: Any) -> None:
        if to_field(get()) == value:
            return
        with QSignalBlocker(widget):
            put(value)

    _on_field_changed(getattr(state, name))
    changed.connect(_on_widget_changed)
    unsubscribe = state.subscribe(name, _on_field_changed)
    # Drop the subscription with the widget, so a dead widget is never updated.
    widget.destroyed.connect(lambda *_: unsubscribe())

    def unbind() -> None:
        unsubscribe()
        with contextlib.suppress(RuntimeError, TypeError):
            changed.disconnect(_on_widget_changed)

    return unbind
