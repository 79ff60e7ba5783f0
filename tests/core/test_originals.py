"""Originals are never modified: a full CLI run (generate, workflows, batch, upscale) leaves every
input file byte-identical with its modification time unchanged, even when writing next to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.cli.main import main
from tests.tiny_models.images import make_image, make_mask

COMMON = ["--prompt", "a lighthouse", "--steps", "4", "--cfg", "1", "--seed", "5"]


pytestmark = pytest.mark.usefixtures("one_cli_engine")


def _state(files: list[Path]) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


def test_a_full_cli_run_leaves_every_input_untouched(tmp_path, tiny_model_dir):
    folder = tmp_path / "inputs"
    folder.mkdir()
    picture, mask, strength = folder / "photo.png", folder / "mask.png", folder / "map.png"
    make_image(64, 48).save(picture)
    make_mask(64, 48).save(mask)
    Image.linear_gradient("L").resize((64, 48)).save(strength)
    make_image(64, 48, seed=3).save(folder / "second.jpg")
    inputs = sorted(p for p in folder.iterdir())
    before = _state(inputs)
    out = tmp_path / "out"
    model = ["--model", str(tiny_model_dir), *COMMON]

    def run(*args: object) -> int:
        return main([*map(str, args), *model])

    assert run("generate", picture, "-o", out / "a.png") == 0
    assert run("generate", picture, "-o", out / "b.png", "--mask", mask) == 0
    assert run("generate", picture, "-o", out / "c.png", "--strength-map", strength) == 0
    assert run("generate", picture, "-o", out / "d.png", "--passes", "0.5,0.3") == 0
    assert (
        run(
            "upscale",
            picture,
            "-o",
            out / "big.png",
            "--scale",
            "1.5",
            "--tile",
            "64",
            "--overlap",
            "16",
        )
        == 0
    )
    assert run("batch", folder, out / "batch") == 0
    assert run("batch", folder, folder, "--in-place") == 0  # writes new names next to them
    assert run("generate", picture, "-o", picture, "--overwrite") == 2  # refused
    assert run("upscale", picture, "-o", picture, "--overwrite") == 2  # refused

    assert _state(inputs) == before
    written = sorted(p.name for p in folder.iterdir() if p not in inputs)
    assert written and all("_img2img" in name for name in written)


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_an_output_that_is_the_input_by_another_name_is_refused(
    tmp_path, tiny_model_dir, link, capsys
):
    """The input is recognised by identity (device and inode), not by its spelling: a link or a
    hard link to it (or, on a case-insensitive file system, another case) is the input."""
    picture = tmp_path / "photo.png"
    make_image(64, 48).save(picture)
    before = _state([picture])
    other_name = tmp_path / "other.png"
    if link == "symlink":
        other_name.symlink_to(picture)
    else:
        other_name.hardlink_to(picture)
    model = ["--model", str(tiny_model_dir), *COMMON]
    code = main(["generate", str(picture), "-o", str(other_name), "--overwrite", *model])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: refusing to write over the input"), err
    assert "\n" not in err
    assert _state([picture]) == before
