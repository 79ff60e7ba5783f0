"""Small Qt helpers shared by every part of the GUI (no app logic, no imports from ``gui``)."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject

_Q = TypeVar("_Q", bound=QObject)


def named(obj: _Q, name: str) -> _Q:
    """``obj`` with its objectName set to ``name`` (tests and style sheets find it by that name).

    PySide6 accepts ``objectName=`` as a constructor keyword, but its type stubs do not know it;
    ``named(QLabel(), "statusLabel")`` says the same and type-checks.
    """
    obj.setObjectName(name)
    return obj
