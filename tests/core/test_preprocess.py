"""Control images made locally: Canny, scribble, line art, "image", and the model-based kinds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.conditioning.annotator_files import ANNOTATORS_ENV, unavailable_reason
from core.conditioning.preprocess import control_image
from core.conditioning.specs import ControlLayer
from core.errors import ModelError


def black_square_on_white(grey: int = 0) -> Image.Image:
    pixels = np.full((32, 32), 255, np.uint8)
    pixels[8:24, 8:24] = grey
    return Image.fromarray(pixels).convert("RGB")


def edges_of(image: Image.Image) -> np.ndarray:
    plane = np.asarray(image)
    assert image.mode == "RGB" and (plane[..., 0] == plane[..., 2]).all()
    return plane[..., 0]


def test_canny_of_a_black_square_marks_exactly_its_outline():
    edges = edges_of(control_image(ControlLayer("cn"), black_square_on_white(), (32, 32)))
    expected = np.zeros((32, 32), np.uint8)
    expected[7, 9:23] = 255  # top: on the white side
    expected[8, [8, 23]] = 255  # the cut corners
    expected[9:23, 7] = 255  # left: white side
    expected[9:23, 23] = 255  # right: on the square
    expected[23, 8:24] = 255  # bottom: on the square
    assert np.array_equal(edges, expected)


def test_canny_thresholds_decide_which_edges_count():
    faint = black_square_on_white(grey=180)  # a step of 75: a Sobel gradient of 300
    default = edges_of(control_image(ControlLayer("cn"), faint, (32, 32)))
    strict = ControlLayer("cn", low_threshold=400, high_threshold=800)
    assert default.any() and not edges_of(control_image(strict, faint, (32, 32))).any()


def test_the_picture_is_resized_before_the_edges_are_found():
    edges = edges_of(control_image(ControlLayer("cn"), black_square_on_white(), (64, 48)))
    assert edges.shape == (48, 64) and set(np.unique(edges)) == {0, 255}


def drawn_line(width: int = 2) -> Image.Image:
    paper = Image.new("L", (32, 32), 255)
    ImageDraw.Draw(paper).line((4, 16, 28, 16), fill=0, width=width)
    return paper


def test_scribble_turns_dark_strokes_on_paper_into_thick_white_lines():
    layer = ControlLayer("cn", kind="scribble", invert=True)
    lines = edges_of(control_image(layer, drawn_line(), (32, 32)))
    assert set(np.unique(lines)) == {0, 255}
    assert lines[16, 16] == 255 and lines[0, 0] == 0
    rows = np.nonzero(lines[:, 16])[0]
    assert len(rows) >= 4  # 2 px drawn, thickened by the dilation
    same = ControlLayer("cn", kind="scribble")  # already white on black: no invert
    white_on_black = Image.eval(drawn_line(), lambda v: 255 - v)
    assert np.array_equal(edges_of(control_image(same, white_on_black, (32, 32))), lines)


def test_line_art_keeps_soft_lines_and_clears_paper_noise():
    drawing = drawn_line()
    drawing.putpixel((2, 2), 245)  # a faint smudge on the paper
    drawing.putpixel((2, 30), 180)  # a pencil-grey dot
    lines = edges_of(
        control_image(ControlLayer("cn", kind="lineart", invert=True), drawing, (32, 32))
    )
    assert lines[16, 16] == 255 and lines[2, 2] == 0 and lines[30, 2] == 75


def test_image_kind_is_used_as_it_is():
    depth = Image.linear_gradient("L").resize((40, 40))
    made = control_image(ControlLayer("cn", kind="image", image=depth), depth, (40, 40))
    assert np.array_equal(np.asarray(made), np.asarray(depth.convert("RGB")))


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("depth", ["config.json", "depth"]),
        ("softedge", ["deploy.prototxt", "hed_pretrained_bsds.caffemodel", "softedge"]),
        ("pose", ["pose_deploy_linevec.prototxt", "pose_iter_440000.caffemodel", "pose"]),
    ],
)
def test_model_based_kinds_without_files_say_what_to_put_where(kind, names, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv(ANNOTATORS_ENV, str(tmp_path / "annotators"))
    reason = unavailable_reason(kind)
    assert reason is not None and unavailable_reason("canny") is None
    with pytest.raises(ModelError) as caught:
        control_image(ControlLayer("cn", kind=kind), black_square_on_white(), (32, 32))
    message = str(caught.value)
    assert message == reason and "\n" not in message and "use type 'image'" in message
    assert all(name in message for name in names)


def test_the_annotators_folder_defaults_to_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(ANNOTATORS_ENV, raising=False)
    expected = tmp_path / "data" / "annotators" / "softedge"  # the conftest's data folder
    assert str(expected) in str(unavailable_reason("softedge"))


def test_depth_maps_come_from_preprocessor_weights_on_disk(monkeypatch, tmp_path):
    from tests.tiny_models.tiny_controlnet import build_tiny_depth_estimator

    build_tiny_depth_estimator(tmp_path / "annotators" / "depth")
    monkeypatch.setenv(ANNOTATORS_ENV, str(tmp_path / "annotators"))
    assert unavailable_reason("depth") is None and unavailable_reason("pose") is not None
    layer = ControlLayer("cn", kind="depth")
    depth = control_image(layer, black_square_on_white(), (48, 40))
    plane = edges_of(depth)  # grey levels as RGB
    assert depth.size == (48, 40) and (plane.min(), plane.max()) == (0, 255)
    again = control_image(layer, black_square_on_white(), (48, 40))
    assert np.array_equal(np.asarray(again), np.asarray(depth))
