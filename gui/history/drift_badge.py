"""The history card's drift warning: an icon whose tooltip says which kept pixels a pass changed
(the rule is :func:`core.history_drift.pass_drift`)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStyle, QWidget

from core.history_drift import Drift
from gui.qt_helpers import named, plain_tooltip

ICON_SIZE = 20


def drift_badge(drift: Drift, parent: QWidget | None = None) -> QLabel:
    """A warning icon (objectName ``driftWarning``) explaining ``drift`` in its tooltip."""
    label = named(QLabel(parent), "driftWarning")
    icon = label.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
    label.setPixmap(icon.pixmap(ICON_SIZE, ICON_SIZE))
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setToolTip(
        plain_tooltip(
            "Drift: " + drift.message() + "\nUse a mask (inpaint) to keep those parts, or "
            "compare with the previous pass (difference view) to see what changed."
        )
    )
    return label
