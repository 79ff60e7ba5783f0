"""The model manager: download curated models (Download page) and register the model folders
people already have (Folders page). Slow work runs on background threads
(gui.window.model_manager_tasks); the window opens the dialog from its "Models…" action.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.library.download import download_model
from core.library.registry import ModelLibrary
from gui.params.model_picker import ModelPicker
from gui.params.state import GenerationParams
from gui.qt_helpers import named
from gui.window.model_manager_catalog import (
    CatalogPage,
    DownloadFunction,
    half_files_by_default,
)
from gui.window.model_manager_folders import FoldersPage
from gui.window.model_manager_tasks import cancel_all


class ModelManagerDialog(QDialog):
    """Download and Folders pages; "Use" on either sets the model of ``state``.

    Closing the dialog only hides it: a download or scan goes on (open it again to see its
    progress); quitting the app cancels them. ``library_changed`` follows every download, scan
    and removal.
    """

    library_changed = Signal()

    def __init__(
        self,
        state: GenerationParams,
        parent: QWidget | None = None,
        library: ModelLibrary | None = None,
        download: DownloadFunction = download_model,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelManagerDialog")
        self.setWindowTitle("Models")
        self._state = state
        half = half_files_by_default(state.device, state.dtype)
        self.catalog_page = named(CatalogPage(download, half), "catalogPage")
        self.folders_page = named(FoldersPage(library or ModelLibrary()), "foldersPage")
        self.tabs = named(QTabWidget(), "modelManagerTabs")
        self.tabs.addTab(self.catalog_page, "Download")
        self.tabs.addTab(self.folders_page, "Your folders")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        column = QVBoxLayout(self)
        column.addWidget(self.tabs, 1)
        column.addWidget(close)
        self.resize(960, 560)

        for page in (self.catalog_page, self.folders_page):
            page.model_chosen.connect(self._on_model_chosen)
            page.library_changed.connect(self.library_changed)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        """Whether a download or a scan is running."""
        return self.catalog_page.busy or self.folders_page.busy

    def shutdown(self) -> None:
        """Cancel a running download or scan and wait briefly for it (the app is quitting)."""
        cancel_all(wait_ms=5000)

    def _on_model_chosen(self, reference: str) -> None:
        self._state.model = reference


class ModelManagerOpener(QObject):
    """The window's "Models…" action (Ctrl+M) and the picker's Models… button: both open
    the one model manager, made on first use; the picker re-reads its list after every change."""

    def __init__(self, state: GenerationParams, picker: ModelPicker, parent: QWidget) -> None:
        super().__init__(parent)
        self._state, self._picker, self._parent = state, picker, parent
        self.dialog: ModelManagerDialog | None = None
        self.action = named(QAction("Models…", parent), "modelsAction")
        self.action.setShortcut(QKeySequence("Ctrl+M"))  # Ctrl+Shift+M is Multi-pass refine
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip("Download models, scan your model folders")
        self.action.triggered.connect(self.open)
        picker.manage_requested.connect(self.open)

    def open(self) -> ModelManagerDialog:
        """Show the model manager (non-modal) and return it."""
        if self.dialog is None:
            self.dialog = ModelManagerDialog(self._state, self._parent)
            self.dialog.library_changed.connect(self._picker.refresh)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog
