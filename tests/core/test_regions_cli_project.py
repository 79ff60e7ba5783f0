"""Regional prompts outside the engine: ``--region`` on the CLI and regions in project files."""

from __future__ import annotations

import json
import zipfile

import pytest
from PIL import Image

from core.cli.main import main
from core.cli.regions import parse_region
from core.conditioning.regions import Region
from core.errors import UserError
from core.history import PassTree
from core.metadata import read_metadata
from core.project import Session, load_project, save_project
from tests.tiny_models.images import make_image


@pytest.fixture
def files(tmp_path):
    picture, mask = tmp_path / "in.png", tmp_path / "sky.png"
    make_image(96, 64).save(picture)
    rgba = Image.new("RGBA", (96, 64), (0, 0, 0, 0))
    rgba.paste((10, 10, 10, 255), (0, 0, 48, 64))  # dark but opaque: the alpha is the mask
    rgba.save(mask)
    return picture, mask


def test_parse_region_reads_mask_alpha_prompt_and_negative(files):
    _, mask = files
    region = parse_region(f"{mask}:a blue sky | clouds")
    assert (region.prompt, region.negative) == ("a blue sky", "clouds")
    assert region.mask.mode == "L" and region.mask.getpixel((0, 0)) == 255
    assert region.mask.getpixel((95, 0)) == 0
    assert parse_region(f"{mask}:a: b").prompt == "a: b"  # later colons belong to the prompt


@pytest.mark.parametrize(
    "spec, needle",
    [("nocolon", "expected MASK.png:PROMPT"), ("{mask}:", "prompt after the colon is empty")],
)
def test_parse_region_errors(files, spec, needle):
    with pytest.raises(UserError, match=needle):
        parse_region(spec.format(mask=files[1]))


def test_cli_region_is_applied_and_recorded(files, tmp_path, tiny_model_dir, capsys):
    picture, mask = files
    out = tmp_path / "out.png"
    args = ["generate", str(picture), "-o", str(out), "--model", str(tiny_model_dir)]
    args += ["--prompt", "a house", "--steps", "2", "--seed", "3", "--region", f"{mask}:a sky"]
    assert main(args) == 0
    regions = read_metadata(out)["record"]["regions"]
    assert [(r["prompt"], r["negative"]) for r in regions] == [("a sky", "")]


@pytest.mark.parametrize(
    "value, needle",
    [("{tmp}/missing.png:sky", "missing.png"), ("just-a-prompt", "expected MASK.png:PROMPT")],
)
def test_cli_region_errors_exit_2_with_one_line(files, tmp_path, value, needle, capsys):
    picture, _ = files
    out = tmp_path / "out.png"
    args = ["generate", str(picture), "-o", str(out), "--model", str(tmp_path)]
    assert main([*args, "--region", value.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err
    assert not out.exists()


def region_session() -> Session:
    tree = PassTree()
    tree.set_root(make_image(40, 30), name="Original")
    sky = Image.linear_gradient("L").resize((40, 30))
    tree.add(
        "root",
        make_image(40, 30),
        {"strength": 0.5},
        regions=(Region(sky, "a sky 空", "fog"), Region(Image.new("L", (40, 30), 9), "grass")),
    )
    tree.add("root", make_image(40, 30), {"strength": 0.3})
    return Session(tree, None, None, {})


def test_project_round_trip_keeps_regions(tmp_path):
    session = region_session()
    path = save_project(tmp_path / "p.i2i", session)
    with zipfile.ZipFile(path) as zf:
        assert {"regions/00001-0.png", "regions/00001-1.png"} <= set(zf.namelist())
        index = json.loads(zf.read("project.json"))
    assert "regions" not in index["records"][2]  # no regions: the entry is as before
    loaded = load_project(path)
    before, after = session.tree.records()[1], loaded.tree.records()[1]
    assert [(r.prompt, r.negative) for r in after.regions] == [("a sky 空", "fog"), ("grass", "")]
    for old, new in zip(before.regions, after.regions, strict=True):
        assert new.mask.mode == "L" and new.mask.tobytes() == old.mask.tobytes()
    assert loaded.tree.records()[2].regions == ()


def test_project_region_member_names_are_checked(tmp_path):
    path = save_project(tmp_path / "p.i2i", region_session())
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    index = json.loads(members["project.json"])
    index["records"][1]["regions"][0]["mask"] = "regions/elsewhere.png"
    members["project.json"] = json.dumps(index).encode()
    bad = tmp_path / "bad.i2i"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(UserError, match="expected 'regions/00001-0.png'"):
        load_project(bad)
    del index["records"][1]["regions"]  # now the region PNGs are members nobody names
    members["project.json"] = json.dumps(index).encode()
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(UserError, match="unexpected member"):
        load_project(bad)
