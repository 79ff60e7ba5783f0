"""Where passes run: this computer, or a remote generation worker (``python main.py serve``).

``WorkerChoicePanel`` sits in the model panel: a Local / Remote worker combo and, for a remote
worker, its URL, its token (never saved: typed each session or taken from
``$IMG2IMG_STUDIO_WORKER_TOKEN``; left empty for a worker on this computer, the client reads the
worker's token file, core.remote.token_file), a Connect button and the connection state
("connected · 3 models", "unreachable: …"). It only shows and asks; gui.window.remote_wiring
acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.qt_helpers import named, plain

LOCAL = "local"
REMOTE = "remote"
MODES = (LOCAL, REMOTE)
TOKEN_ENV = "IMG2IMG_STUDIO_WORKER_TOKEN"
URL_PLACEHOLDER = "http://gpu-box:7860"


@dataclass(frozen=True)
class WorkerConnection:
    """What the last contact with a worker said: its models as ``(name, id)`` pairs, or the
    one-line error (``reachable`` False when nothing answered: then it is retried)."""

    url: str
    models: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    reachable: bool = True
    retry_in_s: float | None = None
    checking: bool = False

    @property
    def connected(self) -> bool:
        return self.error is None and not self.checking

    def text(self) -> str:
        """The state label: "connected · 3 models", "unreachable: …", "not connected: …"."""
        if self.checking:
            return "connecting…"
        if self.error is None:
            count = len(self.models)
            return f"connected · {count} model{'' if count == 1 else 's'}"
        if self.reachable:
            return f"not connected: {self.error}"
        retry = f" · retrying in {self.retry_in_s:g} s" if self.retry_in_s else ""
        return f"unreachable: {self.error}{retry}"


class WorkerChoicePanel(QWidget):
    """The Local / Remote worker choice (objectName ``workerChoice``). ``mode_changed(mode)``
    and ``connect_requested(url, token)`` ask; ``set_connection`` shows the answer."""

    mode_changed = Signal(str)
    connect_requested = Signal(str, str)  # url, token

    def __init__(
        self, mode: str = LOCAL, url: str = "", token: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("workerChoice")
        self.mode_combo = named(QComboBox(), "workerModeCombo")
        self.mode_combo.addItem("Local (this computer)", LOCAL)
        self.mode_combo.addItem("Remote worker", REMOTE)
        self.mode_combo.setToolTip(
            "Where Generate runs: on this computer, or on a worker started with "
            "'python main.py serve' on a GPU box (workflows stay on this computer)"
        )
        self.url_edit = named(QLineEdit(url), "workerUrlEdit")
        self.url_edit.setPlaceholderText(URL_PLACEHOLDER)
        self.url_edit.setToolTip("The address of a generation worker (python main.py serve)")
        self.token_edit = named(QLineEdit(token), "workerTokenEdit")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("token (not saved; a local worker's is found)")
        self.token_edit.setToolTip(
            f"The worker's token. Kept for this session only, never saved (set {TOKEN_ENV} "
            "to fill it in at start). Left empty for a worker on this computer, the token it "
            "wrote to its private token file is used"
        )
        self.connect_button = named(QPushButton("Connect"), "workerConnectButton")
        self.connect_button.setToolTip("Connect to the worker and list its models")
        self.state_label = plain(named(QLabel("not connected"), "workerStateLabel"))
        self.state_label.setWordWrap(True)

        self.remote_box = QWidget()
        grid = QGridLayout(self.remote_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("URL:"), 0, 0)
        grid.addWidget(self.url_edit, 0, 1)
        grid.addWidget(QLabel("Token:"), 1, 0)
        grid.addWidget(self.token_edit, 1, 1)
        grid.addWidget(self.connect_button, 2, 0)
        grid.addWidget(self.state_label, 2, 1)
        grid.setColumnStretch(1, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.mode_combo)
        column.addWidget(self.remote_box)

        self.set_mode(mode)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.connect_button.clicked.connect(self._on_connect_clicked)
        self.url_edit.returnPressed.connect(self._on_connect_clicked)
        self.token_edit.returnPressed.connect(self._on_connect_clicked)

    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def url(self) -> str:
        return self.url_edit.text().strip()

    def token(self) -> str:
        return self.token_edit.text().strip()

    def set_mode(self, mode: str) -> None:
        """Show ``mode`` without asking for anything (restoring settings)."""
        with QSignalBlocker(self.mode_combo):
            self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(mode)))
        self.remote_box.setVisible(self.mode() == REMOTE)

    def set_connection(self, connection: WorkerConnection | None) -> None:
        """Show the connection state (None: not connected yet)."""
        self.state_label.setText("not connected" if connection is None else connection.text())
        self.state_label.setToolTip("" if connection is None else connection.url)

    def _on_mode_changed(self) -> None:
        self.remote_box.setVisible(self.mode() == REMOTE)
        self.mode_changed.emit(self.mode())

    def _on_connect_clicked(self) -> None:
        self.connect_requested.emit(self.url(), self.token())
