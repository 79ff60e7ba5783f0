"""Colour match to the picture around a mask, and the seam measure, on constructed pictures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import InvalidRequest
from core.imaging import blur_mask, composite
from core.imaging.colour import match_to_surroundings
from core.imaging.lab import image_lab, image_rgb
from core.imaging.seam import seam_band_map, seam_figures
from core.requests import PassRequest
from tests.tiny_models.images import make_calm_image, make_mask

SIZE = 160
BOX = (40, 40, 120, 120)


def _shifted(image: Image.Image, dl: float, da: float, db: float) -> Image.Image:
    lab = image_lab(np.asarray(image))
    lab += np.array([dl, da, db], np.float32)
    return Image.fromarray(image_rgb(lab), "RGB")


def _mean_lab(image: Image.Image, where: np.ndarray) -> np.ndarray:
    return image_lab(np.asarray(image))[where].mean(axis=0)


def _hue_and_chroma(lab: np.ndarray) -> tuple[float, float]:
    return float(np.degrees(np.arctan2(lab[2], lab[1]))), float(np.hypot(lab[1], lab[2]))


@pytest.fixture
def scene():
    source = make_calm_image(SIZE, SIZE)
    used = blur_mask(make_mask(SIZE, SIZE, box=BOX), 2)
    return source, used


def test_a_small_global_drift_inside_the_mask_is_corrected(scene):
    source, used = scene
    drifted = _shifted(source, 7, 2, -5)  # lighter and bluer: the usual inpaint drift (≈ 8.9 ΔE)
    inside = np.asarray(used) == 255
    before = _mean_lab(composite(source, drifted, used), inside)
    after = _mean_lab(composite(source, match_to_surroundings(source, drifted, used), used), inside)
    truth = _mean_lab(source, inside)
    assert np.linalg.norm(before - truth) > 8
    assert np.linalg.norm(after - truth) < 1.5  # the whole area, not only its edge
    off = seam_figures(source, composite(source, drifted, used), used)
    on = seam_figures(
        source, composite(source, match_to_surroundings(source, drifted, used), used), used
    )
    assert off["seam_delta_e"] > off["seam_delta_e_original"] + 5
    assert on["seam_delta_e"] <= on["seam_delta_e_original"] + 1


def test_a_different_object_keeps_its_hue_and_the_edge_still_meets_the_picture(scene):
    source, used = scene
    red = (210, 30, 40)  # a red coat where the picture is olive green: ≈ 70 ΔE away
    object_only = _shifted(source, 3, 0, 2)
    ImageDraw.Draw(object_only).ellipse((60, 60, 100, 100), fill=red)
    filled = source.copy()  # the new object fills the mask right up to its edge
    ImageDraw.Draw(filled).rectangle((0, 0, SIZE, SIZE), fill=red)
    centre = np.zeros((SIZE, SIZE), bool)
    centre[72:88, 72:88] = True
    hue, chroma = _hue_and_chroma(_mean_lab(Image.new("RGB", (1, 1), red), np.ones((1, 1), bool)))
    for generated in (object_only, filled):
        matched = composite(source, match_to_surroundings(source, generated, used), used)
        got_hue, got_chroma = _hue_and_chroma(_mean_lab(matched, centre))
        assert abs(got_hue - hue) < 3 and got_chroma > 0.95 * chroma
    figures = seam_figures(source, matched, used)  # the filled one: its edge is matched
    assert figures["seam_delta_e"] <= figures["seam_delta_e_original"] + 1.5
    unmatched = seam_figures(source, composite(source, filled, used), used)
    assert unmatched["seam_delta_e"] > 40


def test_only_pixels_inside_the_used_mask_change():
    source = make_calm_image(96, 64, seed=1)
    generated = make_calm_image(96, 64, seed=2).point(lambda v: min(255, v + 40))
    used = blur_mask(make_mask(96, 64, box=(30, 20, 60, 44)), 4)
    matched = np.asarray(match_to_surroundings(source, generated, used))
    outside = np.asarray(used) == 0
    assert np.array_equal(matched[outside], np.asarray(generated)[outside])
    assert not np.array_equal(matched[~outside], np.asarray(generated)[~outside])
    result = np.asarray(composite(source, Image.fromarray(matched), used))
    assert np.array_equal(result[outside], np.asarray(source)[outside])  # byte-identical


@pytest.mark.parametrize("fill", [0, 255])
def test_an_empty_or_full_mask_has_no_edge(fill):
    source, generated = make_calm_image(48, 48), make_calm_image(48, 48, seed=5)
    used = Image.new("L", (48, 48), fill)
    assert match_to_surroundings(source, generated, used).tobytes() == generated.tobytes()
    assert seam_figures(source, generated, used) == {}
    assert not seam_band_map(used).any()


def test_seam_measures_a_colour_step_not_texture():
    source = make_calm_image(128, 128)
    used = blur_mask(make_mask(128, 128, box=(32, 32, 96, 96)), 3)
    noisy = make_calm_image(128, 128, seed=9)  # other noise, same colours: no step
    same = seam_figures(source, composite(source, noisy, used), used)
    assert same["seam_delta_e"] == pytest.approx(same["seam_delta_e_original"], abs=1)
    darker = composite(source, _shifted(source, -12, 0, 0), used)
    figures = seam_figures(source, darker, used)
    assert figures["seam_delta_e"] > figures["seam_delta_e_original"] + 8
    assert figures["seam_delta_e_original"] < 5  # the soft gradient across the blur's ramp
    bands = seam_band_map(used)
    inside, outside = bands == 1, bands == 2
    assert inside.any() and outside.any()
    assert (np.asarray(used)[inside] == 255).all() and (np.asarray(used)[outside] == 0).all()


def test_colour_match_defaults_to_auto():
    image, mask = make_calm_image(32, 32), make_mask(32, 32)
    assert PassRequest(image=image, mask=mask).colour_matched
    assert not PassRequest(image=image).colour_matched  # whole picture: the model's colours
    assert not PassRequest(image=image, mask=mask, color_match=False).colour_matched
    assert PassRequest(image=image, color_match=True).colour_matched
    with pytest.raises(InvalidRequest, match="color match"):
        PassRequest(image=image, color_match="yes").validate()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "in.png", "-o", "o.png"],
        ["generate", "in.png", "-o", "o.png", "--passes", "0.5,0.3"],
        ["upscale", "in.png", "-o", "o.png"],
        ["batch", "in", "out"],
        ["outpaint", "in.png", "-o", "o.png", "--left", "64"],
        ["faces", "in.png", "-o", "o.png"],
    ],
)
def test_every_pass_command_takes_color_match_on_off_or_auto(command):
    from core.cli.common import request_from_args
    from core.cli.parser import build_parser

    parser = build_parser()
    for flag, expected in (([], None), (["--color-match"], True), (["--no-color-match"], False)):
        args = parser.parse_args([*command, "--model", "m", *flag])
        assert args.color_match is expected
        request = request_from_args(args, make_calm_image(32, 32))
        assert request.color_match is expected
