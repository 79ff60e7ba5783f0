"""The batch core without a model: seeds from the path, plans, sweeping, PNG bytes, commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.batch import (
    REPORT_NAME,
    commit_output,
    encode_png,
    item_request,
    item_seed,
    load_item_image,
    make_plan,
    sweep_temporaries,
)
from core.errors import ImageError, UserError
from core.metadata import read_metadata, write_png
from core.models import ModelSpec
from core.requests import MAX_SEED, PassRequest
from tests.tiny_models.images import make_image

SPEC = ModelSpec("some/model", device="cpu")


def _template(**changes) -> PassRequest:
    return PassRequest(make_image(64, 64), prompt="a cat", steps=4, seed=9).replace(**changes)


def _folder(root: Path, names: list[str]) -> Path:
    folder = root / "in"
    folder.mkdir(exist_ok=True)
    for k, name in enumerate(names):
        make_image(32, 32, seed=k).save(folder / name)
    return folder


def test_item_seeds_come_from_the_base_seed_and_the_path_never_the_position(tmp_path):
    assert item_seed(9, "a.png") == item_seed(9, "a.png")
    assert len({item_seed(9, "a.png"), item_seed(9, "b.png"), item_seed(10, "a.png")}) == 3
    assert all(0 <= item_seed(base, "x.png") <= MAX_SEED for base in (0, 1, MAX_SEED))
    folder = _folder(tmp_path, ["b.png", "c.png"])
    before = {
        e.relative: e.seed for e in make_plan(folder, tmp_path / "out", _template(), SPEC).entries
    }
    _folder(tmp_path, ["a.png"])  # a new first file moves every position
    after = make_plan(folder, tmp_path / "out", _template(), SPEC)
    assert [e.index for e in after.entries] == [1, 2, 3]
    assert {e.relative: e.seed for e in after.entries if e.relative != "a.png"} == before
    assert {e.relative: e.seed for e in after.entries} == {
        name: item_seed(9, name) for name in ("a.png", "b.png", "c.png")
    }


def test_a_random_base_seed_is_drawn_once_per_plan(tmp_path):
    folder = _folder(tmp_path, ["a.png", "b.png"])
    plan = make_plan(folder, tmp_path / "out", _template(seed=None), SPEC)
    assert [e.seed for e in plan.entries] == [
        item_seed(plan.base_seed, n) for n in ("a.png", "b.png")
    ]
    tag = plan.workflow_tag(plan.entries[1])
    assert tag == {
        "type": "batch",
        "group": plan.group,
        "source": "b.png",
        "index": 2,
        "of": 2,
        "base_seed": plan.base_seed,
    }


def test_the_group_is_the_same_for_the_same_recipe(tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    first = make_plan(folder, tmp_path / "out", _template(), SPEC)
    assert make_plan(folder, tmp_path / "out", _template(), SPEC).group == first.group
    assert make_plan(folder, tmp_path / "out", _template(prompt="a dog"), SPEC).group != first.group


def test_item_requests_carry_the_item_seed_and_tag(tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    plan = make_plan(folder, tmp_path / "out", _template(), SPEC)
    entry = plan.entries[0]
    request = item_request(plan, entry, make_image(32, 32))
    assert request.seed == entry.seed == item_seed(9, "a.png")
    assert request.extra["workflow"]["source"] == "a.png" and request.image.size == (32, 32)


def test_sweeping_removes_only_this_plans_temporaries(tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    out = tmp_path / "out"
    out.mkdir()
    left = [out / ".a.png.0123456789ab.tmp", out / f".{REPORT_NAME}.abcdefabcdef.tmp"]
    kept = [out / ".other.png.0123456789ab.tmp", out / "notes.tmp", out / "a.png.tmp"]
    for path in left + kept:
        path.write_bytes(b"half")
    plan = make_plan(folder, out, _template(), SPEC)
    assert sorted(sweep_temporaries(plan)) == sorted(left)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in left)


def test_png_bytes_equal_what_write_png_writes_and_commit_writes_once(tmp_path):
    image, record = (
        make_image(32, 32),
        {"prompt": "a cat", "seed": 3, "workflow": {"type": "batch"}},
    )
    data = encode_png(image, record)
    assert write_png(tmp_path / "ref.png", image, record).read_bytes() == data
    target = tmp_path / "out" / "a.png"
    assert commit_output(target, data, overwrite=False) is True
    assert read_metadata(target)["record"] == record
    assert commit_output(target, b"other", overwrite=False) is False  # delivered twice
    assert target.read_bytes() == data
    assert commit_output(target, b"other", overwrite=True) and target.read_bytes() == b"other"
    assert [p.name for p in target.parent.iterdir()] == ["a.png"]


def test_shipped_bytes_load_like_the_file_and_errors_name_the_item(tmp_path):
    path = tmp_path / "a.png"
    make_image(32, 32, seed=4).save(path)
    assert (
        load_item_image(path.read_bytes(), "sub/a.png").tobytes()
        == make_image(32, 32, seed=4).tobytes()
    )
    with pytest.raises(ImageError, match=r"cannot read image sub/b\.png: not a supported"):
        load_item_image(b"not a picture", "sub/b.png")


def test_a_plan_refuses_bad_settings_before_anything_runs(tmp_path):
    folder = _folder(tmp_path, ["a.png"])
    with pytest.raises(UserError, match="0 denoising steps"):
        make_plan(folder, tmp_path / "out", _template(strength=0.1), SPEC)
    with pytest.raises(UserError, match="input folder"):
        make_plan(folder, folder, _template(), SPEC)


def test_a_plan_recognises_the_input_folder_and_files_by_identity(tmp_path):
    """A link to the input folder is the input folder; an output name that is a hard link to an
    input is that input: both refused in one line, before anything runs."""
    folder = _folder(tmp_path, ["a.png", "b.png"])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    linked = tmp_path / "same-folder"
    linked.symlink_to(folder, target_is_directory=True)
    with pytest.raises(UserError, match="refusing to write into the input folder"):
        make_plan(folder, linked, _template(), SPEC)

    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").hardlink_to(folder / "a.png")  # b's output would write over a
    with pytest.raises(UserError, match="refusing to write over the input") as caught:
        make_plan(folder, out, _template(), SPEC, overwrite=True)
    assert "\n" not in str(caught.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
