"""Small Qt helpers shared by every part of the GUI (no app logic, no imports from ``gui``)."""

from __future__ import annotations

from typing import TypeVar

from PySide6 import QtGui
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

_Q = TypeVar("_Q", bound=QObject)
_L = TypeVar("_L", bound=QLabel)


def named(obj: _Q, name: str) -> _Q:
    """``obj`` with its objectName set to ``name`` (tests and style sheets find it by that name).

    PySide6 accepts ``objectName=`` as a constructor keyword, but its type stubs do not know it;
    ``named(QLabel(), "statusLabel")`` says the same and type-checks.
    """
    obj.setObjectName(name)
    return obj


# -- text from files, metadata and errors is shown as plain text, never as Qt rich text ---------


def plain(label: _L) -> _L:
    """``label`` set to show its text literally (a prompt like ``<b>x</b>`` is not markup)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tooltip(text: str) -> str:
    """A tooltip that shows ``text`` literally: tooltips have no text format of their own and
    treat anything that looks like HTML as markup, so the text goes in escaped."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


def ask(parent: QWidget | None, title: str, text: str, default_yes: bool = False) -> bool:
    """A Yes/No question showing ``text`` as plain text; True when the answer is Yes."""
    yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    box = QMessageBox(QMessageBox.Icon.Question, title, text, yes | no, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(yes if default_yes else no)
    return bool(box.exec() == yes)


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """A warning showing ``text`` (an error message, a file name) as plain text."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
