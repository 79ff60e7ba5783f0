"""The Control panel's settings come back: from a PNG's metadata (without pictures, which
metadata does not keep) and from project files and autosaves (pictures included)."""

from __future__ import annotations

import json
import zipfile

from PySide6.QtWidgets import QMessageBox

from core.conditioning.specs import ControlLayer, LoraSpec
from core.metadata import write_png
from core.project import load_project, save_project
from gui.document.session_file import capture, restore
from gui.params.conditioning_state import METADATA_NOTICE, ControlEntry, ReferenceEntry
from tests.gui.session_helpers import pixels
from tests.tiny_models.images import make_image

RECORD = {
    "prompt": "a castle <lora:detail:0.8>",
    "negative_prompt": "",
    "steps": 20,
    "cfg": 6.0,
    "seed": 77,
    "scheduler": "Euler a",
    "strength": 0.6,
    "width": 96,
    "height": 64,
    "loras": [
        # 0.5 from the panel plus the prompt's tag at 0.8: one file, weights summed
        {"name": "detail", "path": "/nowhere/detail.safetensors", "weight": 1.3, "hash": "ab"},
        {"name": "style", "path": "/nowhere/style.safetensors", "weight": -0.5, "hash": "cd"},
    ],
    "controls": [
        {
            "model": "/cn/canny",
            "kind": "canny",
            "strength": 0.7,
            "start": 0.1,
            "end": 0.8,
            "low_threshold": 50,
            "high_threshold": 150,
            "image_hash": "0123",
        },
        {"model": "/cn/depth", "kind": "image", "strength": 1.2, "start": 0.0, "end": 1.0},
        {"model": "x", "kind": "no-such-kind"},  # unusable: left out
    ],
    "references": [{"model": "ip-adapter.bin", "scale": 0.45, "mode": "style", "image_hash": "9"}],
}


def _answer_yes(monkeypatch) -> None:
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: QMessageBox.StandardButton.Yes)


def test_settings_come_back_from_a_png_like_the_prompt(fake_window, tmp_path, monkeypatch):
    window = fake_window
    panel, state = window.control_panel, window.state.conditioning
    panel.add_control_layer()  # replaced by the picture's
    path = write_png(tmp_path / "made.png", make_image(96, 64, seed=5), RECORD)
    _answer_yes(monkeypatch)
    assert window.files.open_path(path, offer_parameters=True)

    assert window.state.prompt == "a castle <lora:detail:0.8>" and window.state.seed == 77
    # By name (the files are not here); the prompt's tag keeps its own part of the weight.
    assert state.loras == (LoraSpec("detail", 0.5), LoraSpec("style", -0.5))
    assert [row.title.text() for row in panel.lora_rows] == ["detail", "style"]
    assert [row.weight.value() for row in panel.lora_rows] == [0.5, -0.5]
    canny, depth = state.controls
    assert canny == ControlEntry(
        ControlLayer(
            "/cn/canny", "canny", None, 0.7, 0.1, 0.8, low_threshold=50, high_threshold=150
        )
    )
    assert depth.layer.kind == "image" and depth.layer.strength == 1.2 and depth.image_lost
    rows = panel.control_rows
    assert rows[0].kind.currentData() == "canny" and rows[0].model.text() == "/cn/canny"
    assert (rows[0].start.value(), rows[0].end.value(), rows[0].strength.value()) == (
        0.1,
        0.8,
        0.7,
    )
    assert "input picture" in rows[0].picture_label.text()
    assert "not in the metadata" in rows[1].picture_label.text()
    (ref,) = state.references
    assert ref == ReferenceEntry("ip-adapter.bin", None, "", 0.45, "style", image_lost=True)
    assert "not in the metadata" in panel.reference_rows[0].picture_label.text()
    assert panel.notice.text() == METADATA_NOTICE and not panel.notice.isHidden()

    # Without their pictures the pass says what is missing, in one line.
    assert not window.generate()
    assert "reference 1 has no picture" in window.error_label.text()

    # A picture of this app without any: restoring clears the panel.
    plain = write_png(tmp_path / "plain.png", make_image(96, 64), {"prompt": "x", "seed": 1})
    assert window.files.open_path(plain, offer_parameters=True)
    assert (state.loras, state.controls, state.references) == ((), (), ())
    assert panel.control_rows == [] and panel.notice.isHidden()


def test_control_settings_and_pictures_round_trip_through_a_project(fake_window, tmp_path):
    window = fake_window
    panel, state = window.control_panel, window.state.conditioning
    control_picture, reference_picture = tmp_path / "edges.png", tmp_path / "look.png"
    make_image(48, 32, seed=2).save(control_picture)
    make_image(40, 40, seed=3).save(reference_picture)
    panel.add_lora_file("/loras/detail.safetensors", 0.65)
    panel.add_control_layer()
    panel.edit("controls", 0, "edit", {"model": "cn-scribble", "kind": "scribble", "invert": True})
    assert panel.set_picture("controls", 0, str(control_picture))
    panel.add_control_layer()
    panel.edit("controls", 1, "edit", {"strength": 0.3, "end": 0.5, "enabled": False})
    panel.add_reference_entry()
    assert panel.set_picture("references", 0, str(reference_picture))
    panel.edit("references", 0, "edit", {"model": "ip", "scale": 0.9, "mode": "composition"})
    before = (state.loras, state.controls, state.references)

    path = save_project(tmp_path / "work.i2i", capture(window.document))
    with zipfile.ZipFile(path) as archive:
        index = json.loads(archive.read("project.json"))
        assert index["ui_images"] == {
            "control-0": "ui_images/control-0.png",
            "reference-0": "ui_images/reference-0.png",
        }
        assert "ui_images/control-0.png" in archive.namelist()

    panel.remove("references", 0)
    panel.remove("controls", 1)
    restore(window.document, load_project(path), path)
    assert (state.loras, state.controls, state.references) == before
    assert pixels(state.controls[0].layer.image) == pixels(make_image(48, 32, seed=2))
    assert pixels(state.references[0].image) == pixels(make_image(40, 40, seed=3))
    assert state.controls[0].image_name == "edges.png"
    assert len(panel.control_rows) == 2 and not panel.control_rows[1].enabled.isChecked()
    assert "edges.png (48×32)" in panel.control_rows[0].picture_label.text()
    assert window.undo_stack.count() == 0

    # Autosaves go through the same session: its pictures travel with it.
    session = capture(window.document)
    assert sorted(session.ui_images) == ["control-0", "reference-0"]

    # Settings keep no pictures: saving them works with all of this set.
    window.save_settings()
    assert "controls" not in window.settings.last_params


def test_a_pass_sends_the_panel_and_its_card_lists_what_it_used(fake_window, fake_engine, qtbot):
    from tests.gui.session_helpers import generate

    window = fake_window
    seen = []
    run_pass = fake_engine.run_pass

    def recording_run_pass(request, spec, on_event=None, cancel=None):
        seen.append(request)
        result = run_pass(request, spec, on_event, cancel)
        result.record["loras"] = [{"name": "detail", "path": "d", "weight": 0.5}]
        return result

    fake_engine.run_pass = recording_run_pass
    window.control_panel.add_lora_file("/loras/detail.safetensors", 0.5)
    window.control_panel.add_control_layer()
    window.control_panel.edit("controls", 0, "model", {"model": "cn"})
    record = generate(qtbot, window)
    (request,) = seen
    assert request.loras == (LoraSpec("/loras/detail.safetensors", 0.5),)
    assert request.controls == (ControlLayer("cn"),)
    item = window.history.item(record.id)
    assert item is not None and "LoRA detail × 0.50" in item.toolTip(0)
