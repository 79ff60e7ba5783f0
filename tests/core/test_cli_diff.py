"""``diff A B``: JSON figures, the heat map file, no overwrite, one-line errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from core.cli.diff import DIFF_CHUNK
from core.cli.main import main
from tests.tiny_models.images import make_image

KEYS = {
    "changed_pixels",
    "changed_inside_mask",
    "changed_outside_mask",
    "mean_change",
    "max_change",
    "delta_e",
}


@pytest.fixture
def pair(tmp_path):
    a, b, mask = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "mask.png"
    image = make_image(40, 20)
    image.save(a)
    changed = image.copy()
    changed.paste((255, 0, 0), (0, 0, 10, 10))  # 100 pixels
    changed.save(b)
    m = Image.new("L", (40, 20), 0)
    m.paste(255, (5, 0, 40, 20))  # 50 of them inside
    m.save(mask)
    return a, b, mask


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_identical_pictures_report_zero(pair, capsys):
    a, _, _ = pair
    assert main(["diff", str(a), str(a), "--json"]) == 0
    figures = _json(capsys)
    assert figures.keys() >= KEYS
    assert figures["changed_pixels"] == 0 and figures["delta_e"] == 0


def test_mask_splits_the_counts_and_heat_map_is_written(pair, tmp_path, capsys):
    a, b, mask = pair
    out = tmp_path / "heat.png"
    args = ["diff", str(a), str(b), "--mask", str(mask), "-o", str(out), "--gain", "8", "--json"]
    assert main(args) == 0
    figures = _json(capsys)
    assert figures["changed_pixels"] == 100
    assert (figures["changed_inside_mask"], figures["changed_outside_mask"]) == (50, 50)
    with Image.open(out) as heat:
        assert heat.width == 64 and heat.height > 20  # heat map + scale bar (at least 64 wide)
        assert json.loads(heat.text[DIFF_CHUNK])["gain"] == 8
        assert heat.getpixel((0, 0)) != (0, 0, 0) and heat.getpixel((39, 19)) == (0, 0, 0)
    # Never overwrites without --overwrite; with it, it does.
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_summary_line_without_json(pair, capsys):
    a, b, _ = pair
    assert main(["diff", str(a), str(b)]) == 0
    assert "100 pixels changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--gain", "64"], "--gain"),
        (["--outside-only"], "--mask"),
        (["-o", "heat.jpg"], ".png"),
    ],
)
def test_bad_options_are_one_line_errors(pair, capsys, extra, needle, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    a, b, _ = pair
    assert main(["diff", str(a), str(b), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err


def test_unreadable_input_is_one_line_error(pair, tmp_path, capsys):
    a, _, _ = pair
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    for other in (bad, tmp_path / "missing.png"):
        assert main(["diff", str(a), str(other)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err


def test_main_py_runs_diff_headless(pair, capsys):
    import main as entry

    a, _, _ = pair
    assert entry.main(["diff", str(a), str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed_pixels"] == 0


def test_json_reports_the_seam_across_the_mask(tmp_path, capsys):
    from tests.tiny_models.images import make_calm_image, make_mask

    a, b, mask = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "m.png"
    picture = make_calm_image(96, 96)
    picture.save(a)
    darker = picture.copy()
    darker.paste(picture.crop((24, 24, 72, 72)).point(lambda v: max(0, v - 40)), (24, 24))
    darker.save(b)
    make_mask(96, 96, box=(24, 24, 71, 71)).save(mask)
    assert main(["diff", str(a), str(b), "--mask", str(mask), "--json"]) == 0
    figures = _json(capsys)
    assert figures["seam_delta_e"] > figures["seam_delta_e_original"] + 10
    assert main(["diff", str(a), str(b), "--json"]) == 0
    assert _json(capsys)["seam_delta_e"] is None  # no mask, no edge to measure
    assert main(["diff", str(a), str(b), "--mask", str(mask)]) == 0
    assert "seam: ΔE" in capsys.readouterr().out
