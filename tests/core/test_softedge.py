"""Soft edge runs for real: HED's Caffe files found in the annotators folder are run by OpenCV's
dnn module (a tiny random-weight HED of the same format: input ``data``, centre-cropped side
outputs, ``sigmoid-fuse``), in a ControlNet pass too; broken or missing files are one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.conditioning.annotator_files import ANNOTATORS_ENV, HED_FILES, unavailable_reason
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.errors import ModelError
from tests.core.conditioning_helpers import base_request, cpu_spec, make_controlnet, pixels
from tests.tiny_models.tiny_caffe import build_tiny_hed


@pytest.fixture
def annotators(tmp_path, monkeypatch):
    root = tmp_path / "annotators"
    monkeypatch.setenv(ANNOTATORS_ENV, str(root))
    return root


def square_at(left: int, top: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    picture = Image.new("RGB", size, "white")
    picture.paste((0, 0, 0), (left, top, left + 28, top + 28))
    return picture


def grey(image: Image.Image) -> np.ndarray:
    plane = np.asarray(image)
    assert np.array_equal(plane[:, :, 0], plane[:, :, 1])  # grey levels as RGB
    return plane[:, :, 0].astype(float)


def test_hed_files_make_a_soft_edge_map_where_the_picture_is(annotators):
    build_tiny_hed(annotators / "softedge")
    assert unavailable_reason("softedge") is None
    layer = ControlLayer("cn", kind="softedge")
    made = control_image(layer, square_at(20, 16), (96, 72))
    assert made.mode == "RGB" and made.size == (96, 72)
    edges = grey(made)
    assert len(np.unique(edges)) > 8  # soft levels, not a threshold
    # The response sits on the square (the side outputs are cropped back into place) and
    # moves with it.
    inside = edges[20:40, 24:44].mean()
    assert abs(inside - edges[:, 60:].mean()) > 20
    moved = grey(control_image(layer, square_at(56, 30), (96, 72)))
    assert abs(moved[34:54, 60:80].mean() - inside) < 10
    assert abs(moved[20:40, 24:44].mean() - inside) > 20
    again = control_image(layer, square_at(20, 16), (96, 72))
    assert np.array_equal(np.asarray(again), np.asarray(made))


def test_a_missing_weights_file_is_named(annotators):
    folder = build_tiny_hed(annotators / "softedge")
    (folder / HED_FILES[1]).unlink()
    reason = unavailable_reason("softedge")
    assert reason is not None and HED_FILES[1] in reason and HED_FILES[0] not in reason
    assert str(folder) in reason


@pytest.mark.parametrize("broken", ["weights", "prototxt"])
def test_broken_hed_files_are_one_line(annotators, broken):
    folder = build_tiny_hed(annotators / "softedge")
    name = HED_FILES[1] if broken == "weights" else HED_FILES[0]
    (folder / name).write_bytes(b"\x00\x01 not a network \xff" * 40)
    with pytest.raises(ModelError) as caught:
        control_image(ControlLayer("cn", kind="softedge"), square_at(20, 16), (64, 64))
    message = str(caught.value)
    assert "\n" not in message and "cannot be run" in message and str(folder) in message


def test_a_controlnet_pass_with_soft_edges(annotators, engine, tiny_model_dir, tmp_path_factory):
    build_tiny_hed(annotators / "softedge")
    controlnet = make_controlnet(tmp_path_factory, tiny_model_dir)
    layer = ControlLayer(str(controlnet), kind="softedge")
    result = engine.run_pass(base_request(controls=(layer,)), cpu_spec(tiny_model_dir))
    (record,) = result.record["controls"]
    assert record["kind"] == "softedge"
    (shown,) = result.control_images
    expected = control_image(layer, base_request().image, (64, 64))
    assert np.array_equal(pixels(shown), pixels(expected))
