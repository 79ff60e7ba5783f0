"""The one way to observe a change: subscribers that get called, and observable dataclasses.

Plain Python, no Qt: the pass tree (``core.history``), the generation parameters and the
document (``gui.document``) all notify through :class:`Subscribers`. ``subscribe`` returns an
unsubscribe function; callbacks run on the thread that made the change (the GUI thread for
everything the window holds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PIL import Image

T = TypeVar("T")


class Subscribers(Generic[T]):
    """Callbacks that take one value of type ``T``; ``notify(value)`` calls each in order."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], None]] = []

    def subscribe(self, callback: Callable[[T], None]) -> Callable[[], None]:
        """Call ``callback(value)`` on every notification; returns an unsubscribe function."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def notify(self, value: T) -> None:
        for callback in list(self._callbacks):  # a callback may unsubscribe itself
            callback(value)

    def __len__(self) -> int:
        return len(self._callbacks)


FieldObserver = Callable[[Any], None]
_MISSING = object()


class Observable:
    """Mixin for dataclasses: ``subscribe(name, callback)`` is called after field ``name``
    changes (to a value that is not equal to the old one)."""

    def __setattr__(self, name: str, value: Any) -> None:
        old = self.__dict__.get(name, _MISSING)
        object.__setattr__(self, name, value)
        if old is not _MISSING and not _same(old, value):
            observers = self._field_observers().get(name)
            if observers is not None:
                observers.notify(value)

    def _field_observers(self) -> dict[str, Subscribers[Any]]:
        observers = self.__dict__.get("_observers")
        if observers is None:
            observers = {}
            object.__setattr__(self, "_observers", observers)
        return observers

    def subscribe(self, name: str, callback: FieldObserver) -> Callable[[], None]:
        """Call ``callback(value)`` whenever field ``name`` changes; returns an unsubscribe."""
        if name not in {f.name for f in dataclasses.fields(self)}:  # type: ignore[arg-type]
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        return self._field_observers().setdefault(name, Subscribers()).subscribe(callback)

    def update(self, **values: Any) -> None:
        """Set several known fields at once (unknown names are ignored)."""
        names = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for name, value in values.items():
            if name in names:
                setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def _same(old: Any, new: Any) -> bool:
    """Whether a field keeps its value: the same object, or equal (pictures are compared by
    identity only: equal pixels in a new picture still count as a change, and comparing every
    byte of a big mask on each edit would cost the GUI thread)."""
    if old is new:
        return True
    if _holds_pictures(old) or _holds_pictures(new):
        return False
    return bool(old == new)


def _holds_pictures(value: Any) -> bool:
    if isinstance(value, Image.Image):
        return True
    if isinstance(value, tuple):
        return any(_holds_pictures(item) for item in value)
    return dataclasses.is_dataclass(value) and any(
        isinstance(getattr(value, f.name), Image.Image) for f in dataclasses.fields(value)
    )
