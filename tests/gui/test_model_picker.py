"""The model picker: models grouped by family with search, the first-run default offer, and
switching models (loading progress in the bar, Cancel during a load)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.errors import PassCancelled
from core.events import ModelLoading
from core.library import catalog
from gui.params import model_entries
from gui.params.model_entries import FAMILY_LABELS, PickerEntry, format_size, group_by_family
from gui.params.model_picker import ModelPicker
from gui.params.state import GenerationParams

ENTRIES = [
    PickerEntry("/models/sdxl/pony.safetensors", "ponyDiffusionV6", "sdxl", "installed"),
    PickerEntry("/models/sd15/dreamshaper_8.safetensors", "dreamshaper_8", "sd1", "installed"),
    PickerEntry("stabilityai/sd-turbo", "SD-Turbo", "sd2", "cached"),
    PickerEntry("/models/odd.safetensors", "odd", "", "installed"),
]


@pytest.fixture
def picker(qtbot):
    state = GenerationParams()
    widget = ModelPicker(state, entries=lambda: list(ENTRIES))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_family_labels_match_the_engine_families():
    from core.models.families import FAMILIES

    assert {key: family.label for key, family in FAMILIES.items()} == FAMILY_LABELS


def test_models_are_grouped_by_family_under_headings(picker):
    picker.set_recent(["/recent/a.safetensors"])
    assert picker.listed() == [
        ("/recent/a.safetensors", "/recent/a.safetensors"),
        ("SD 1.x", ""),
        ("dreamshaper_8", "/models/sd15/dreamshaper_8.safetensors"),
        ("SD 2.x", ""),
        ("SD-Turbo", "stabilityai/sd-turbo"),
        ("SDXL", ""),
        ("ponyDiffusionV6", "/models/sdxl/pony.safetensors"),
        ("Other", ""),
        ("odd", "/models/odd.safetensors"),
    ]
    heading = picker.combo.model().item(1)
    assert not heading.isSelectable() and not heading.isEnabled()


def test_choosing_a_name_sets_its_reference_and_back(picker):
    state = picker._state
    picker.combo.setCurrentIndex(picker.combo.findText("dreamshaper_8"))
    assert state.model == "/models/sd15/dreamshaper_8.safetensors"
    state.model = "stabilityai/sd-turbo"
    assert picker.combo.currentText() == "SD-Turbo"
    picker.combo.setEditText(" /somewhere/else.safetensors ")
    assert state.model == "/somewhere/else.safetensors"
    # A refresh (after a scan or download) keeps the chosen model.
    state.model = "/models/sdxl/pony.safetensors"
    picker.refresh()
    assert picker.combo.currentText() == "ponyDiffusionV6"
    assert state.model == "/models/sdxl/pony.safetensors"


def test_typing_searches_names_anywhere_in_them(picker):
    completer = picker.combo.completer()
    completer.setCompletionPrefix("DREAM")
    assert completer.completionCount() == 1
    assert completer.currentCompletion() == "dreamshaper_8"
    completer.setCompletionPrefix("turbo")
    assert completer.currentCompletion() == "SD-Turbo"


def test_group_by_family_puts_unknown_families_last():
    groups = group_by_family(ENTRIES)
    assert [label for label, _ in groups] == ["SD 1.x", "SD 2.x", "SDXL", "Other"]
    assert format_size(int(2.6e9)) == "2.6 GB" and format_size(335_000_000) == "335 MB"


def test_first_run_offers_the_default_model_with_its_size(picker, monkeypatch):
    state = picker._state
    default = catalog.entry(catalog.DEFAULT_MODEL_ID)
    assert default is not None
    button = picker.default_button
    assert button.isVisible()
    assert button.text() == f"Use {default.name} ({format_size(default.size_bytes)} download)"
    button.click()
    assert state.model == catalog.DEFAULT_MODEL_ID
    assert not button.isVisible()
    # Once it is in the HF cache, the offer says so instead of a download size.
    monkeypatch.setattr(catalog, "cached_path", lambda model_id: Path("/cache/snapshot"))
    state.model = ""
    assert button.isVisible() and button.text() == f"Use {default.name} (downloaded)"


def test_available_entries_read_the_library_and_the_hf_cache(monkeypatch, tmp_path):
    class FakeLibrary:
        def items(self, kind=None):
            from core.library.registry import LibraryItem

            return [
                LibraryItem(
                    "a", "dreamshaper_8", "checkpoint", "sd1", Path("/m/d.safetensors"), 9, ""
                ),
                LibraryItem("b", "detail", "lora", "sd1", Path("/m/detail.safetensors"), 9, ""),
            ]

    monkeypatch.setattr(model_entries, "ModelLibrary", FakeLibrary)
    cached = {"stabilityai/sdxl-turbo"}
    monkeypatch.setattr(
        catalog, "cached_path", lambda model_id: tmp_path if model_id in cached else None
    )
    entries = model_entries.available_entries()
    assert [(e.name, e.family, e.origin) for e in entries] == [
        ("dreamshaper_8", "sd1", "installed"),  # the LoRA is no model to generate with
        ("SDXL-Turbo", "sdxl", "cached"),
    ]
    assert entries[0].reference == str(Path("/m/d.safetensors"))


# -- switching models: the bar shows the load, Cancel stops it --------------------------------


class LoadingEngine:
    """Reports a model download, then waits (like a long load) until the pass is cancelled."""

    def __init__(self) -> None:
        self.loading = threading.Event()
        self.references: list[str] = []

    def run_pass(self, request, spec, on_event=None, cancel=None):
        self.references.append(spec.reference)
        on_event(ModelLoading(spec.reference, f"Downloading {spec.reference}: 0.1 of 2.6 GB", 0.04))
        self.loading.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        raise PassCancelled


def test_switching_models_shows_the_load_and_cancel_stops_it(qtbot, fake_window, monkeypatch):
    from gui.run import worker as worker_module

    engine = LoadingEngine()
    monkeypatch.setattr(worker_module, "shared_engine", lambda: engine)
    window = fake_window
    count = len(window.tree)
    window.state.model = catalog.DEFAULT_MODEL_ID  # switch to another model
    assert window.generate()
    qtbot.waitUntil(
        lambda: window.progress_bar.format().startswith("Downloading stabilityai/sd-turbo"),
        timeout=30_000,
    )
    assert window.busy and window.cancel_button.isEnabled()
    window.cancel()
    qtbot.waitUntil(lambda: not window.busy, timeout=30_000)
    assert window.progress_bar.format() == "Cancelled"
    assert len(window.tree) == count
    assert engine.references == [catalog.DEFAULT_MODEL_ID]


def test_a_first_start_window_offers_the_default_model(empty_window):
    picker = empty_window.panel.model_picker
    assert empty_window.state.model == ""
    assert picker.default_button.isVisible()
    assert picker.default_button.text().startswith("Use SD-Turbo (")
    picker.default_button.click()
    assert empty_window.state.model == catalog.DEFAULT_MODEL_ID
    assert picker.current_reference() == catalog.DEFAULT_MODEL_ID
