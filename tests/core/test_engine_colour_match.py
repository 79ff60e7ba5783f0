"""Colour match and the seam measure on real passes of the tiny model, whose random colours are
far from the picture's: the default inpaint leaves no seam, --no-color-match does, and ten passes
on one mask stay put."""

from __future__ import annotations

import numpy as np
import pytest

from core.cli.main import main
from core.imaging import blur_mask
from core.imaging.lab import image_lab
from core.metadata import read_metadata
from core.requests import PassRequest
from tests.tiny_models.images import make_calm_image, make_mask

SEAM_MARGIN = 1.5  # ΔE76 over the picture's own step across the same line
REPEAT_DRIFT = 2.5  # ΔE76: the masked area's mean after ten passes, from the first pass's
SIZE, BOX, BLUR = 96, (24, 24, 72, 72), 4


@pytest.fixture
def scene(tmp_path):
    picture, mask = tmp_path / "in.png", tmp_path / "mask.png"
    make_calm_image(SIZE, SIZE).save(picture)
    make_mask(SIZE, SIZE, box=BOX).save(mask)
    return picture, mask


@pytest.mark.usefixtures("one_cli_engine")
def test_default_inpaint_leaves_no_seam_and_no_color_match_does(scene, tmp_path, tiny_model_dir):
    picture, mask = scene
    common = [picture, "--model", tiny_model_dir, "--mask", mask, "--steps", "2", "--seed", "1"]
    records = {}
    for name, extra in (("on", []), ("off", ["--no-color-match"])):
        out = tmp_path / f"{name}.png"
        assert main(["generate", *map(str, common), "-o", str(out), *extra]) == 0
        records[name] = read_metadata(out)
    on, off = records["on"]["record"], records["off"]["record"]
    assert on["color_match"] is True and off["color_match"] is False
    assert "Color match: True" in records["on"]["parameters"]
    assert on["seam_delta_e_original"] == off["seam_delta_e_original"]  # the same line
    assert on["seam_delta_e"] <= on["seam_delta_e_original"] + SEAM_MARGIN
    assert off["seam_delta_e"] > off["seam_delta_e_original"] + SEAM_MARGIN


def test_ten_passes_on_one_mask_stay_put(engine, spec):
    image, mask = make_calm_image(SIZE, SIZE), make_mask(SIZE, SIZE, box=BOX)
    outside = np.asarray(blur_mask(mask, BLUR)) == 0
    inside = np.asarray(mask) > 0
    picture, means = image, []
    for _ in range(10):
        request = PassRequest(image=picture, mask=mask, mask_blur=BLUR, steps=2, seed=7)
        result = engine.run_pass(request, spec)
        picture = result.image
        assert np.array_equal(np.asarray(picture)[outside], np.asarray(image)[outside])
        means.append(image_lab(np.asarray(picture))[inside].mean(axis=0))
    drift = [float(np.linalg.norm(mean - means[0])) for mean in means]
    assert max(drift) <= REPEAT_DRIFT, drift


def test_every_masked_path_records_its_seam(engine, spec):
    image, mask = make_calm_image(64, 64), make_mask(64, 64, box=(16, 16, 48, 48))
    outside = np.asarray(blur_mask(mask, 2)) == 0
    for options in ({"inpaint_area": "masked", "padding": 8}, {"soft_inpaint": True}):
        request = PassRequest(image=image, mask=mask, mask_blur=2, steps=2, seed=3, **options)
        result = engine.run_pass(request, spec)
        assert result.record["color_match"] is True
        assert result.record["seam_delta_e"] <= result.record["seam_delta_e_original"] + 3
        assert np.array_equal(np.asarray(result.image)[outside], np.asarray(image)[outside])


def test_whole_picture_passes_keep_the_model_colours_unless_asked(engine, spec):
    image = make_calm_image(64, 64)
    plain = engine.run_pass(PassRequest(image=image, steps=2, seed=4), spec)
    assert plain.record["color_match"] is False and "seam_delta_e" not in plain.record
    guarded = engine.run_pass(PassRequest(image=image, steps=2, seed=4, color_match=True), spec)
    assert guarded.record["color_match"] is True
    source_mean = image_lab(np.asarray(image)).reshape(-1, 3).mean(axis=0)

    def off_by(result):
        return np.linalg.norm(
            image_lab(np.asarray(result.image)).reshape(-1, 3).mean(axis=0) - source_mean
        )

    assert off_by(guarded) < 1 < off_by(plain)
