"""CLI ``outpaint`` and ``--soft-inpaint``: files, metadata, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.cli.common import request_from_args
from core.cli.main import main
from core.cli.parser import build_parser
from core.metadata import read_metadata
from tests.tiny_models.images import make_image

COMMON = ["--prompt", "a lighthouse", "--steps", "5", "--cfg", "1", "--seed", "5"]


pytestmark = pytest.mark.usefixtures("one_cli_engine")


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "in.png"
    make_image(64, 48).save(path)
    return path


def run(*args, model) -> int:
    return main([*map(str, args), "--model", str(model), *COMMON])


def test_outpaint_writes_the_expanded_picture_with_its_record(picture, tmp_path, tiny_model_dir):
    out = tmp_path / "out.png"
    code = run(
        "outpaint", picture, "-o", out, "--left", 16, "--bottom", 8, "--band", 8,
        model=tiny_model_dir,
    )  # fmt: skip
    assert code == 0
    image = Image.open(out)
    assert image.size == (80, 56)
    kept = np.asarray(Image.open(picture).convert("RGB"))[:, 8:]
    assert np.array_equal(np.asarray(image.convert("RGB"))[:40, 24:], kept[:40])
    meta = read_metadata(out)
    record = meta["record"]
    assert record["kind"] == "outpaint" and record["strength"] == 0.85
    assert record["outpaint"] == {"left": 16, "right": 0, "top": 0, "bottom": 8, "band": 8}
    assert "Denoising strength: 0.85" in meta["parameters"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ([], "at least one margin"),
        (["--left", "5000"], "left margin must be between 0 and 4096"),
        (["--top", "8", "--band", "-1"], "band must be between"),
        (["--top", "8", "--width", "128"], "outpaint sets the size"),
    ],
)
def test_outpaint_errors_are_one_line(picture, tmp_path, capsys, extra, needle):
    code = main(["outpaint", str(picture), "-o", str(tmp_path / "o.png"), "--model", "x", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    assert needle in err
    assert not (tmp_path / "o.png").exists()


def test_soft_inpaint_flag_reaches_the_request():
    args = build_parser().parse_args(
        ["generate", "in.png", "-o", "o.png", "--model", "m", "--soft-inpaint"]
    )
    assert request_from_args(args, make_image(32, 32)).soft_inpaint is True
    args = build_parser().parse_args(["generate", "in.png", "-o", "o.png", "--model", "m"])
    assert request_from_args(args, make_image(32, 32)).soft_inpaint is False


def test_soft_inpaint_is_recorded_in_the_file(picture, tmp_path, tiny_model_dir):
    mask = tmp_path / "mask.png"
    Image.new("L", (64, 48), 0).save(mask)
    m = Image.open(mask).copy()
    m.paste(255, (16, 12, 48, 36))
    m.save(mask)
    out = tmp_path / "soft.png"
    args = ("generate", picture, "-o", out, "--mask", mask, "--soft-inpaint", "--strength", "0.8")
    assert run(*args, model=tiny_model_dir) == 0
    meta = read_metadata(out)
    assert meta["record"]["soft_inpaint"] is True
    assert "Soft inpainting enabled: True" in meta["parameters"]
