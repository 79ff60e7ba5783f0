"""Masks and strength maps from files: alpha is the mask when there is transparency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.errors import ImageError
from core.imaging import load_mask_file, resize_to
from tests.tiny_models.images import make_image

BOX = (16, 12, 40, 32)  # left, top, right, bottom (exclusive) of the box the alpha marks
COMMON = ["--prompt", "a lighthouse", "--steps", "6", "--cfg", "1", "--seed", "5"]


pytestmark = pytest.mark.usefixtures("one_cli_engine")


def alpha_box_file(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """RGB black everywhere; alpha opaque inside BOX, transparent elsewhere."""
    arr = np.zeros((size[1], size[0], 4), np.uint8)
    arr[BOX[1] : BOX[3], BOX[0] : BOX[2], 3] = 255
    Image.fromarray(arr, "RGBA").save(path)
    return path


def inside_box(shape: tuple[int, ...]) -> np.ndarray:
    inside = np.zeros(shape[:2], bool)
    inside[BOX[1] : BOX[3], BOX[0] : BOX[2]] = True
    return inside


def assert_only_box_changed(before: Image.Image, after_path: Path) -> None:
    a = np.asarray(before.convert("RGB"), np.int16)
    b = np.asarray(Image.open(after_path).convert("RGB"), np.int16)
    changed = (a != b).any(axis=2)
    inside = inside_box(a.shape)
    assert not changed[~inside].any(), f"{changed[~inside].sum()} pixels changed outside the box"
    assert changed[inside].mean() > 0.5, "the box was not repainted"


def run(*args, model) -> int:
    return main([*map(str, args), "--model", str(model), *COMMON])


def test_load_mask_file_keeps_alpha_size_and_luminance(tmp_path):
    mask = load_mask_file(alpha_box_file(tmp_path / "a.png"))
    assert mask.mode == "L" and mask.size == (64, 48)
    arr = np.asarray(mask)
    assert (arr[inside_box(arr.shape)] == 255).all() and (arr[~inside_box(arr.shape)] == 0).all()
    Image.new("RGBA", (10, 6), (255, 255, 255, 255)).save(tmp_path / "opaque.png")
    assert load_mask_file(tmp_path / "opaque.png").getpixel((3, 3)) == 255  # luminance
    Image.new("RGB", (10, 6), (0, 0, 0)).save(tmp_path / "black.jpg")
    assert load_mask_file(tmp_path / "black.jpg").size == (10, 6)


def test_load_mask_file_errors_are_one_line(tmp_path):
    with pytest.raises(ImageError, match="no such file") as missing:
        load_mask_file(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ImageError, match="bad.png") as bad:
        load_mask_file(tmp_path / "bad.png")
    assert "\n" not in str(missing.value) + str(bad.value)


@pytest.mark.parametrize("option", ["--mask", "--strength-map"])
def test_generate_uses_the_alpha_of_a_mask_file(tmp_path, tiny_model_dir, option):
    picture = tmp_path / "in.png"
    make_image(64, 48).save(picture)
    mask = alpha_box_file(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    extra = ["--mask-blur", "0"] if option == "--mask" else []
    code = run(
        "generate",
        picture,
        "-o",
        out,
        option,
        mask,
        "--strength",
        "0.9",
        *extra,
        model=tiny_model_dir,
    )
    assert code == 0
    assert_only_box_changed(Image.open(picture), out)


def test_batch_uses_the_alpha_of_a_mask_file(tmp_path, tiny_model_dir):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    make_image(64, 48, seed=1).save(folder / "a.png")
    mask = alpha_box_file(tmp_path / "mask.png")
    code = run(
        "batch",
        folder,
        out,
        "--mask",
        mask,
        "--mask-blur",
        "0",
        "--strength",
        "0.9",
        model=tiny_model_dir,
    )
    assert code == 0
    assert_only_box_changed(Image.open(folder / "a.png"), out / "a.png")


def test_upscale_uses_the_alpha_of_a_mask_file(tmp_path, tiny_model_dir):
    picture = tmp_path / "in.png"
    make_image(32, 24).save(picture)
    mask = alpha_box_file(tmp_path / "mask.png", (64, 48))  # at the output's size
    out = tmp_path / "big.png"
    code = run(
        "upscale",
        picture,
        "-o",
        out,
        "--scale",
        "2",
        "--tile",
        "64",
        "--overlap",
        "16",
        "--mask",
        mask,
        "--mask-blur",
        "0",
        "--strength",
        "0.9",
        model=tiny_model_dir,
    )
    assert code == 0
    assert_only_box_changed(resize_to(Image.open(picture).convert("RGB"), (64, 48)), out)


@pytest.mark.parametrize("command", ["generate", "upscale", "batch"])
def test_a_bad_mask_file_is_one_line_and_writes_nothing(tmp_path, tiny_model_dir, capsys, command):
    folder = tmp_path / "in"
    folder.mkdir()
    make_image(64, 48).save(folder / "a.png")
    (tmp_path / "mask.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    target = ["-o", tmp_path / "out.png"] if command != "batch" else [tmp_path / "out"]
    source = folder if command == "batch" else folder / "a.png"
    code = run(command, source, *target, "--mask", tmp_path / "mask.png", model=tiny_model_dir)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "mask.png" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "mask.png"]
