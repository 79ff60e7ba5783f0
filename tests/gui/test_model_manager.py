"""The model manager dialog: the catalog with its cached status, downloads on a background thread
(byte progress, cancel, resume, one-line failures) and model folders scanned in place."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import ModelError, PassCancelled
from core.events import ModelLoading
from core.library import catalog
from core.library.registry import ModelLibrary
from gui.params.model_entries import format_size
from gui.params.state import GenerationParams
from gui.window.model_manager import ModelManagerDialog

TIMEOUT = 30_000


class FakeHub:
    """A download function: four chunks with byte progress; with ``hold`` set it stops after two
    until cancelled, and a later call resumes from the chunks it already has."""

    def __init__(self) -> None:
        self.hold = False
        self.received = 0
        self.calls: list[tuple[str, bool]] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, repo_id, emit, cancel, fp16=False):
        self.calls.append((repo_id, fp16))
        self.threads.append(threading.current_thread())
        while self.received < 4:
            if cancel.cancelled:
                raise PassCancelled
            if self.hold and self.received == 2:
                time.sleep(0.01)
                continue
            self.received += 1
            fraction = self.received / 4
            emit(
                ModelLoading(
                    repo_id, f"Downloading {repo_id}: {self.received}.0 of 4.0 GB", fraction
                )
            )
        return f"/hf-cache/{repo_id}/snapshot"


@pytest.fixture
def hub():
    return FakeHub()


@pytest.fixture
def dialog(qtbot, hub, tmp_path):
    state = GenerationParams()
    window = ModelManagerDialog(
        state, library=ModelLibrary(tmp_path / "library.json"), download=hub
    )
    qtbot.addWidget(window)
    window.show()
    return window


def column(table, index):
    return [table.item(row, index).text() for row in range(table.rowCount())]


def test_the_catalog_lists_family_size_licence_use_and_cached_status(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(
        catalog,
        "cached_path",
        lambda model_id: tmp_path if model_id == "stabilityai/sdxl-turbo" else None,
    )
    window = ModelManagerDialog(GenerationParams(), library=ModelLibrary(tmp_path / "lib.json"))
    qtbot.addWidget(window)
    table = window.catalog_page.table
    assert table.rowCount() == len(catalog.CATALOG) >= 8
    names = column(table, 0)
    default = catalog.entry(catalog.DEFAULT_MODEL_ID)
    assert default is not None and f"{default.name} (default)" in names
    needed = ("Stable Diffusion 1.5", "SD 1.5 Inpainting", "SD-Turbo", "SDXL base", "SDXL-Turbo")
    for name in (*needed, "SDXL Inpainting", "FLUX.1 schnell", "FLUX.1 Fill"):
        assert any(shown.startswith(name) for shown in names), name
    row = names.index("SDXL-Turbo")
    entry = catalog.entry("stabilityai/sdxl-turbo")
    assert entry is not None
    assert [column(table, c)[row] for c in range(6)] == [
        "SDXL-Turbo", "SDXL", format_size(entry.size_bytes), entry.licence, entry.good_for,
        "downloaded",
    ]  # fmt: skip
    assert column(table, 5).count("downloaded") == 1
    assert window.catalog_page.selected_id() == catalog.DEFAULT_MODEL_ID


def test_klein_9b_shows_its_non_commercial_licence_and_that_it_is_gated(qtbot, tmp_path):
    window = ModelManagerDialog(GenerationParams(), library=ModelLibrary(tmp_path / "lib.json"))
    qtbot.addWidget(window)
    table = window.catalog_page.table
    names = column(table, 0)
    row = names.index("FLUX.2 Klein 9B")
    entry = catalog.entry("black-forest-labs/FLUX.2-klein-9B")
    assert entry is not None
    assert [column(table, c)[row] for c in range(5)] == [
        "FLUX.2 Klein 9B", "FLUX.2 Klein", "34.6 GB",
        "FLUX Non-Commercial License v2.1 (gated)", entry.good_for,
    ]  # fmt: skip
    assert column(table, 3)[names.index("FLUX.1 dev")].endswith("Non-Commercial License (gated)")
    tooltip = table.item(row, 0).toolTip()
    assert tooltip.startswith("black-forest-labs/FLUX.2-klein-9B\n")
    assert "Gated: accept its terms on huggingface.co" in tooltip


def test_download_runs_off_the_gui_thread_with_byte_progress(qtbot, dialog, hub, monkeypatch):
    page = dialog.catalog_page
    seen: list[int] = []
    page.progress.valueChanged.connect(seen.append)
    page.select("stabilityai/sdxl-turbo")
    with qtbot.waitSignal(dialog.library_changed, timeout=TIMEOUT):
        page.download_button.click()
        assert page.busy and not page.download_button.isEnabled()
    assert hub.calls == [("stabilityai/sdxl-turbo", page.half_check.isChecked())]
    assert hub.threads[0] is not threading.main_thread()
    assert 500 in seen and page.progress.value() == 1000
    assert "stabilityai/sdxl-turbo is downloaded" in page.status_label.text()
    assert not page.busy and page.download_button.isEnabled()
    # Use sets the model of the next pass.
    page.use_button.click()
    assert dialog._state.model == "stabilityai/sdxl-turbo"


def test_cancel_stops_the_download_and_the_next_one_resumes(qtbot, dialog, hub):
    page = dialog.catalog_page
    hub.hold = True
    page.download(catalog.DEFAULT_MODEL_ID)
    qtbot.waitUntil(lambda: page.progress.value() == 500, timeout=TIMEOUT)
    assert "downloading 50%" in column(page.table, 5)
    assert "2.0 of 4.0 GB" in page.status_label.text()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT)
    assert "Cancelled" in page.status_label.text() and "resume" in page.status_label.text()
    hub.hold = False
    with qtbot.waitSignal(dialog.library_changed, timeout=TIMEOUT):
        page.download(catalog.DEFAULT_MODEL_ID)
    assert len(hub.calls) == 2 and hub.received == 4
    assert "is downloaded" in page.status_label.text()


def test_a_failed_download_says_why_in_one_line(qtbot, tmp_path):
    def gated(repo_id, emit, cancel, fp16=False):
        raise ModelError(f"{repo_id} is gated: accept its terms on huggingface.co\nand log in")

    window = ModelManagerDialog(
        GenerationParams(), library=ModelLibrary(tmp_path / "l.json"), download=gated
    )
    qtbot.addWidget(window)
    page = window.catalog_page
    page.download("black-forest-labs/FLUX.1-dev")
    qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT)
    assert page.status_label.text() == (
        "black-forest-labs/FLUX.1-dev is gated: accept its terms on huggingface.co"
    )
    assert page.progress.value() == 0


# -- folders scanned in place -------------------------------------------------------------------


@pytest.fixture
def a1111_folder(tmp_path):
    """A fake AUTOMATIC1111 install: two checkpoints, a LoRA, a ControlNet, a VAE, a pickle and a
    corrupt file (tests/core/library_helpers.py)."""
    from tests.core.library_helpers import a1111_tree

    return a1111_tree(tmp_path / "stable-diffusion-webui").resolve()


def rows(table):
    return [tuple(table.item(r, c).text() for c in range(3)) for r in range(table.rowCount())]


def test_scan_registers_a_folder_in_place_lists_it_and_remove_forgets_it(
    qtbot, dialog, a1111_folder
):
    page = dialog.folders_page
    with qtbot.waitSignal(dialog.library_changed, timeout=TIMEOUT):
        page.scan(a1111_folder)
    assert not page.busy
    folders = [page.folder_list.item(i).toolTip() for i in range(page.folder_list.count())]
    assert folders == [str(a1111_folder)]
    assert page.selected_folder() == a1111_folder
    assert sorted(rows(page.table)) == [
        ("InkStyle", "lora", "SD 1.x"),
        ("control_canny", "controlnet", "SD 1.x"),
        ("dreamy_v1", "checkpoint", "SD 1.x"),
        ("ponyish", "checkpoint", "SDXL"),
        ("vae-ft-mse", "vae", "—"),
    ]
    status = page.status_label.text()
    assert status.startswith(f"Registered 5 files in {a1111_folder}: 2 checkpoints, 1 LoRA")
    assert "Not registered: 2 files" in status  # the pickle and the corrupt file
    checkpoint = a1111_folder / "models" / "Stable-diffusion" / "dreamy_v1.safetensors"
    assert str(checkpoint) in column(page.table, 4)  # registered where it is, not copied
    # Use takes a checkpoint, never a LoRA.
    page.table.selectRow(column(page.table, 0).index("InkStyle"))
    assert not page.use_button.isEnabled()
    page.table.selectRow(column(page.table, 0).index("dreamy_v1"))
    page.use_button.click()
    assert dialog._state.model == str(checkpoint)
    with qtbot.waitSignal(dialog.library_changed, timeout=TIMEOUT):
        page.remove_button.click()
    assert page.folder_list.count() == 0 and page.table.rowCount() == 0
    assert checkpoint.is_file()


def test_the_window_opens_the_manager_and_the_picker_lists_what_it_found(
    qtbot, fake_window, a1111_folder
):
    window = fake_window
    window.models.action.trigger()
    dialog = window.models.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.close()
    window.panel.model_picker.findChild(object, "manageModelsButton").click()
    assert window.models.dialog is dialog and dialog.isVisible()
    with qtbot.waitSignal(dialog.library_changed, timeout=TIMEOUT):
        dialog.folders_page.scan(a1111_folder)
    listed = window.panel.model_picker.listed()
    names = [text for text, _ in listed]
    assert names[names.index("SD 1.x") + 1] == "dreamy_v1"
    assert names[names.index("SDXL") + 1] == "ponyish"
    assert "InkStyle" not in names and "vae-ft-mse" not in names
