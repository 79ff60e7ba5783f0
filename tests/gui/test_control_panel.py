"""The Control panel: edits reach the request, each edit is one undo step, the canvas overlay."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTreeWidgetItem

from core.conditioning.preprocess import canny
from core.conditioning.specs import ControlLayer, LoraSpec
from core.errors import InvalidRequest
from core.history import PassTree
from core.requests import PassRequest
from gui.history.history_panel import HistoryPanel
from gui.params.control_panel import ControlPanel
from gui.params.state import GenerationParams
from tests.gui.session_helpers import pixels
from tests.tiny_models.images import make_image


@pytest.fixture
def setup(qtbot, canvas, undo_stack):
    """A Control panel on a fresh state, a tree whose input is the canvas's picture."""
    params = GenerationParams()
    tree = PassTree()
    tree.set_root(square_picture(), "Original")
    panel = ControlPanel(params.conditioning, undo_stack, tree, canvas.control_overlay)
    qtbot.addWidget(panel)
    panel.resize(420, 900)
    panel.show()
    return params, panel, undo_stack, tree


def square_picture(seed: int = 0) -> Image.Image:
    """A dark square on a light picture: Canny finds its outline."""
    picture = make_image(200, 120, seed=seed)
    picture.paste((10, 10, 10), (60 + seed, 30, 120 + seed, 90))
    return picture


def _request(params: GenerationParams) -> PassRequest:
    return params.pass_request(make_image(64, 64)).validate()


def _drag(value_slider, positions: list[int]) -> None:
    """A slider drag: pressed, moved through ``positions``, released."""
    slider = value_slider.slider
    slider.setSliderDown(True)
    slider.sliderPressed.emit()
    for position in positions:
        slider.setValue(position)
    slider.setSliderDown(False)


def test_panel_edits_reach_the_request(setup, tmp_path):
    params, panel, _undo, _tree = setup
    assert _request(params).loras == () and _request(params).controls == ()

    # A LoRA with its weight from the spin box.
    assert panel.add_lora_file(str(tmp_path / "detail.safetensors"))
    row = panel.lora_rows[0]
    assert row.title.text() == "detail"
    row.weight.spin.setValue(0.8)

    # A control layer: type, model, strength, range, thresholds, off and on again.
    assert panel.add_control_layer()
    control = panel.control_rows[0]
    control.kind.setCurrentIndex(control.kind.findData("scribble"))
    control.kind.activated.emit(control.kind.currentIndex())
    assert control.invert.isVisibleTo(control) and not control.low.isVisibleTo(control)
    control.invert.setChecked(True)
    control.kind.setCurrentIndex(control.kind.findData("canny"))
    control.kind.activated.emit(control.kind.currentIndex())
    assert control.low.isVisibleTo(control) and not control.invert.isVisibleTo(control)
    control.model.setText("  controlnet-canny  ")
    control.model.editingFinished.emit()
    control.strength.spin.setValue(0.75)
    control.end.setValue(0.8)
    control.start.setValue(0.1)
    control.low.setValue(50)
    control.high.setValue(150)
    control.enabled.setChecked(False)

    # A reference from a file, with adapter, scale and mode.
    picture = tmp_path / "look.png"
    make_image(40, 30, seed=3).save(picture)
    assert panel.add_reference_entry()
    assert panel.set_picture("references", 0, str(picture))
    ref = panel.reference_rows[0]
    ref.model.setText("ip-adapter.safetensors")
    ref.model.editingFinished.emit()
    ref.scale.spin.setValue(0.4)
    ref.mode.setCurrentIndex(ref.mode.findData("style"))
    ref.mode.activated.emit(ref.mode.currentIndex())
    assert "look.png (40×30)" in ref.picture_label.text()

    request = _request(params)
    assert request.loras == (LoraSpec(str(tmp_path / "detail.safetensors"), 0.8),)
    assert request.controls == (
        ControlLayer(
            model="controlnet-canny",
            kind="canny",
            strength=0.75,
            start=0.1,
            end=0.8,
            low_threshold=50,
            high_threshold=150,
            invert=True,
            enabled=False,
        ),
    )
    (reference,) = request.references
    assert (reference.model, reference.scale, reference.mode) == (
        "ip-adapter.safetensors",
        0.4,
        "style",
    )
    assert pixels(reference.image) == pixels(make_image(40, 30, seed=3))

    # The range stays valid: a start past the end moves the end.
    control.start.setValue(0.9)
    layer = params.conditioning.controls[0].layer
    assert (layer.start, layer.end) == (0.9, 0.95)
    assert (control.start.value(), control.end.value()) == (0.9, 0.95)

    # Removing takes the entry out of the request.
    QTest.mouseClick(panel.lora_rows[0].remove, Qt.MouseButton.LeftButton)
    assert _request(params).loras == () and panel.lora_rows == []


def test_a_reference_without_a_picture_stops_the_pass_with_one_line(setup):
    params, panel, _undo, _tree = setup
    panel.add_reference_entry()
    assert "No picture yet" in panel.reference_rows[0].picture_label.text()
    with pytest.raises(InvalidRequest, match="reference 1 has no picture") as error:
        params.pass_request(make_image(64, 64))
    assert "\n" not in str(error.value)
    # Settings keep plain values only: no pictures, no error.
    assert "references" not in params.saved_values()


def test_each_edit_is_one_undo_step_and_a_drag_is_one(setup, tmp_path):
    params, panel, undo, _tree = setup
    state = params.conditioning
    start = undo.count()
    panel.add_lora_file("style")
    panel.add_control_layer()
    assert undo.count() == start + 2
    row = panel.control_rows[0]

    _drag(row.strength, [18, 16, 12, 8])  # slider 0–40 for 0–2: one drag, one step
    assert undo.count() == start + 3
    assert state.controls[0].layer.strength == 0.4
    _drag(row.strength, [6, 4])  # another drag: its own step
    assert undo.count() == start + 4
    row.strength.spin.setValue(0.3)  # a spin box change: its own step
    row.strength.spin.setValue(0.35)
    assert undo.count() == start + 6
    panel.lora_rows[0].weight.spin.setValue(0.5)
    row.model.setText("cn")
    row.model.editingFinished.emit()
    row.model.editingFinished.emit()  # nothing changed: no step
    assert undo.count() == start + 8
    assert [undo.text(i) for i in range(start, undo.count())] == [
        "Add LoRA style",
        "Add control layer",
        "Control strength",
        "Control strength",
        "Control strength",
        "Control strength",
        "LoRA weight",
        "ControlNet model",
    ]

    # Undo walks back through the same states; the widgets follow.
    undo.undo()
    assert state.controls[0].layer.model == "" and row.model.text() == ""
    undo.undo()
    assert state.loras[0].weight == 1.0 and panel.lora_rows[0].weight.value() == 1.0
    undo.undo()
    undo.undo()
    assert state.controls[0].layer.strength == 0.2 and row.strength.value() == 0.2
    undo.undo()
    assert state.controls[0].layer.strength == 0.4 and row.strength.slider.value() == 8
    undo.undo()
    assert state.controls[0].layer.strength == 1.0
    undo.undo()
    assert state.controls == () and panel.control_rows == []
    undo.redo()
    assert len(panel.control_rows) == 1 and state.controls[0].layer.kind == "canny"
    undo.undo()
    undo.undo()
    assert state.loras == () and undo.index() == start


def test_show_puts_the_control_image_over_the_canvas(setup, canvas, undo_stack):
    params, panel, undo, tree = setup
    overlay = canvas.control_overlay
    panel.add_control_layer()
    row = panel.control_rows[0]
    assert not row.preview.pixmap().isNull()  # the thumbnail of the Canny edges
    assert overlay.control_image() is None

    before = undo.count()
    row.show_button.click()
    assert undo.count() == before  # showing is a view, not an edit
    expected = canny(square_picture(), 100, 200)
    assert pixels(overlay.control_image()) == pixels(expected)
    assert overlay.item.isVisible() and overlay.item.zValue() > 2

    row.high.setValue(250)  # the shown image follows the layer's thresholds
    assert pixels(overlay.control_image()) == pixels(canny(square_picture(), 100, 250))
    edges = np.asarray(overlay.control_image())
    assert 0 < (edges > 0).mean() < 0.5

    record = tree.add(tree.root_id, square_picture(seed=7), {"strength": 0.5})
    tree.select(record.id)  # a new input picture: the overlay follows it
    assert pixels(overlay.control_image()) == pixels(canny(square_picture(seed=7), 100, 250))

    row.show_button.click()
    assert overlay.control_image() is None and not overlay.item.isVisible()
    row.show_button.click()
    panel.remove("controls", 0)  # removing the shown layer hides it
    assert overlay.control_image() is None and params.conditioning.shown_control == -1


def test_a_picture_dropped_on_a_layer_makes_its_control_image(setup, tmp_path):
    params, panel, undo, _tree = setup
    drawing = tmp_path / "drawing.png"
    square_picture(seed=20).save(drawing)
    panel.add_control_layer()
    row = panel.control_rows[0]
    assert not row.use_picture.isEnabled()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(drawing))])
    drop = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    before = undo.count()
    row.preview.dropEvent(drop)
    entry = params.conditioning.controls[0]
    assert pixels(entry.layer.image) == pixels(square_picture(seed=20))
    assert entry.image_name == "drawing.png" and undo.count() == before + 1
    assert "drawing.png (200×120)" in row.picture_label.text() and row.use_picture.isEnabled()
    row.use_picture.click()  # back to the input picture: one more step
    assert params.conditioning.controls[0].layer.image is None and undo.count() == before + 2


@pytest.fixture
def only_hed_on_disk(tmp_path, monkeypatch):
    """Soft edge's detector files in the annotators folder; none for depth (an empty hub
    cache) nor pose."""
    from core.conditioning.annotator_files import ANNOTATORS_ENV
    from tests.tiny_models.tiny_caffe import build_tiny_hed

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv(ANNOTATORS_ENV, str(tmp_path / "annotators"))
    build_tiny_hed(tmp_path / "annotators" / "softedge")


def _kind_item(row, kind: str):
    return row.kind.model().item(row.kind.findData(kind))


@pytest.mark.usefixtures("only_hed_on_disk")
def test_types_without_their_detector_are_greyed_out_with_the_reason(setup):
    _params, panel, _undo, _tree = setup
    panel.add_control_layer()
    row = panel.control_rows[0]
    for kind in ("canny", "scribble", "lineart", "image", "softedge"):
        assert _kind_item(row, kind).isEnabled(), kind
    for kind, words in (("depth", "config.json"), ("pose", "pose_iter_440000.caffemodel")):
        item = _kind_item(row, kind)
        assert not item.isEnabled() and item.text().endswith(": unavailable")
        tooltip = row.kind.itemData(row.kind.findData(kind), Qt.ItemDataRole.ToolTipRole)
        assert words in tooltip and "use type" in tooltip
    row.kind.setCurrentIndex(row.kind.findData("softedge"))
    row.kind.activated.emit(row.kind.currentIndex())
    assert panel.state.controls[0].layer.kind == "softedge"
    assert row.preview.pixmap().isNull()
    assert "made when the pass runs" in row.preview.text()


def test_every_type_is_offered_when_its_files_are_there(setup, tmp_path, monkeypatch):
    from core.conditioning.annotator_files import ANNOTATORS_ENV
    from tests.tiny_models.tiny_caffe import build_tiny_hed, build_tiny_openpose
    from tests.tiny_models.tiny_controlnet import build_tiny_depth_estimator

    root = tmp_path / "annotators"
    build_tiny_hed(root / "softedge")
    build_tiny_openpose(root / "pose")
    build_tiny_depth_estimator(root / "depth")
    monkeypatch.setenv(ANNOTATORS_ENV, str(root))
    _params, panel, _undo, _tree = setup
    panel.add_control_layer()
    row = panel.control_rows[0]
    assert row.unavailable == {}
    assert all(row.kind.model().item(i).isEnabled() for i in range(row.kind.count()))


@pytest.mark.usefixtures("only_hed_on_disk")
def test_a_layer_of_an_unavailable_type_says_why(setup):
    """A layer restored from a PNG made where pose could run."""
    _params, panel, _undo, _tree = setup
    panel.state.restore({"controls": [{"model": "cn-pose", "kind": "pose"}]})
    row = panel.control_rows[0]
    assert row.kind.currentData() == "pose"
    assert "pose_deploy_linevec.prototxt" in row.kind.toolTip()
    assert row.preview.pixmap().isNull()
    assert row.preview.text() == "The pose preprocessor needs its detector files."
    assert "pose_iter_440000.caffemodel" in row.preview.toolTip()


def test_the_history_tooltip_lists_what_a_pass_used(qtbot):
    tree = PassTree()
    tree.set_root(make_image(32, 32), "Original")
    params = {
        "strength": 0.5,
        "loras": [{"name": "detail", "path": "/l/detail.safetensors", "weight": 0.8, "hash": "x"}],
        "controls": [
            {"model": "/cn/canny", "kind": "canny", "strength": 0.7, "start": 0.0, "end": 0.8}
        ],
        "references": [{"model": "ip.safetensors", "scale": 0.6, "mode": "style"}],
    }
    record = tree.add(tree.root_id, make_image(32, 32, seed=1), params, name="Pass 1")
    panel = HistoryPanel(tree)
    qtbot.addWidget(panel)
    item = panel.item(record.id)
    assert isinstance(item, QTreeWidgetItem)
    tip = item.toolTip(0)
    assert "LoRA detail × 0.80" in tip
    assert "Control 1: canny × 0.70, 0.00–0.80 (canny)" in tip
    assert "Reference 1: × 0.60 style (ip)" in tip


def test_add_lora_offers_the_scanned_loras(setup, monkeypatch):
    from gui.params import control_panel

    params, panel, _undo, _tree = setup
    assert control_panel.library_loras() == []  # an empty library (the test's own user dirs)
    scanned = [("detail", "/loras/detail.safetensors"), ("ink", "/loras/ink.safetensors")]
    monkeypatch.setattr(control_panel, "library_loras", lambda: scanned)
    panel.lora_menu.aboutToShow.emit()
    names = [action.text() for action in panel.lora_menu.actions() if not action.isSeparator()]
    assert names == ["detail", "ink", "Choose a file…"]
    panel.lora_menu.actions()[1].trigger()
    assert params.conditioning.loras == (LoraSpec("/loras/ink.safetensors", 1.0),)


def test_model_fields_offer_scanned_models_and_browse_for_a_file(setup, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QToolButton

    from gui.params import control_widgets

    params, panel, undo, _tree = setup
    scanned = {"controlnet": [("canny", "/m/control_canny.safetensors")], "ip_adapter": []}
    monkeypatch.setattr(control_widgets, "library_items", lambda kind: scanned.get(kind, []))
    panel.add_control_layer()
    panel.add_reference_entry()
    completer = panel.control_rows[0].model.completer()
    assert (
        completer is not None
        and completer.model().index(0, 0).data() == scanned["controlnet"][0][1]
    )
    assert panel.reference_rows[0].model.completer() is None  # nothing scanned of that kind

    chosen = "/m/ip-adapter_sd15.safetensors"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (chosen, ""))
    before = undo.count()
    panel.reference_rows[0].findChild(QToolButton, "referenceModelBrowse").click()
    assert params.conditioning.references[0].model == chosen and undo.count() == before + 1
    assert panel.reference_rows[0].model.text() == chosen
