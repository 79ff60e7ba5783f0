"""The candidates strip over the bottom of the canvas: thumbnails, Accept and Discard.

The arrow keys flip between the candidates while the canvas (or the strip) has the focus,
Return accepts and Delete discards; the chosen candidate is drawn on the canvas itself.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from gui.live.candidates import Candidates
from gui.qt_helpers import named, plain
from gui.qt_images import thumbnail_qimage

THUMB = 72
MARGIN = 12


class CandidateStrip(QFrame):
    """objectName ``candidateStrip``: shown over ``host`` while there are candidates."""

    def __init__(self, candidates: Candidates, host: QWidget) -> None:
        super().__init__(host)
        self.setObjectName("candidateStrip")
        self.setStyleSheet(
            "#candidateStrip { background: rgba(30, 30, 34, 215); border-radius: 8px; }"
            "#candidateStrip QLabel { color: #f0f0f0; }"
            "#candidateStrip QToolButton { border: 2px solid transparent; border-radius: 4px; }"
            "#candidateStrip QToolButton:checked { border-color: #4da3ff; }"
        )
        self._candidates = candidates
        self._host = host
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(candidates.select)
        self._thumbs = QHBoxLayout()
        self._thumbs.setSpacing(4)
        self.label = plain(named(QLabel(), "candidateLabel"))
        self.accept_button = named(QPushButton("Accept"), "candidateAcceptButton")
        self.accept_button.setToolTip("Keep the chosen candidate as a pass (Return)")
        self.accept_button.clicked.connect(candidates.accept)
        self.discard_button = named(QPushButton("Discard"), "candidateDiscardButton")
        self.discard_button.setToolTip("Drop every candidate (Delete)")
        self.discard_button.clicked.connect(candidates.discard)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addLayout(self._thumbs)
        row.addWidget(self.label)
        row.addWidget(self.accept_button)
        row.addWidget(self.discard_button)
        candidates.changed.connect(self._refresh)
        candidates.finished.connect(self._on_finished)
        host.installEventFilter(self)
        self.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        if event.type() == QEvent.Type.KeyPress and self.isVisible():
            assert isinstance(event, QKeyEvent)
            return self._on_key(event)
        return False

    def _on_key(self, event: QKeyEvent) -> bool:
        key, candidates = event.key(), self._candidates
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            candidates.step(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            candidates.step(-1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            candidates.accept()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            candidates.discard()
        else:
            return False
        return True

    def _refresh(self) -> None:
        candidates = self._candidates
        if not candidates.active:
            self.hide()
            return
        buttons = self._group.buttons()
        for index, result in enumerate(candidates.results[len(buttons) :], len(buttons)):
            button = named(QToolButton(), f"candidateThumb{index + 1}")
            button.setCheckable(True)
            button.setIcon(QIcon(QPixmap.fromImage(thumbnail_qimage(result.image, THUMB))))
            button.setIconSize(QSize(THUMB, THUMB))
            button.setToolTip(f"Candidate {index + 1} · seed {result.seed}")
            self._group.addButton(button, index)
            self._thumbs.addWidget(button)
        for extra in self._group.buttons()[len(candidates.results) :]:
            self._group.removeButton(extra)
            extra.deleteLater()
        chosen = self._group.button(candidates.index)
        if chosen is not None:
            chosen.setChecked(True)
        self.label.setText(self._text())
        self.accept_button.setEnabled(bool(candidates.results) and not candidates.running)
        self.show()
        self.raise_()
        self._place()

    def _text(self) -> str:
        candidates = self._candidates
        count = len(candidates.results)
        if candidates.running:
            return f"Making candidates… {count}/{candidates.expected}"
        if not count:
            return "No candidate finished"
        seed = candidates.results[candidates.index].seed
        return f"{candidates.index + 1}/{count} · seed {seed}\n← → to flip"

    def _on_finished(self) -> None:
        self._refresh()
        if self.isVisible():
            self._host.setFocus()  # the arrow keys flip right away

    def _place(self) -> None:
        self.adjustSize()
        host = self._host.rect()
        width = min(self.sizeHint().width(), host.width() - 2 * MARGIN)
        height = self.sizeHint().height()
        self.setGeometry(
            (host.width() - width) // 2, host.height() - height - MARGIN, width, height
        )
