"""Project files: exact round trips, atomic saves, one-line errors and schema migrations."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.atomic import atomic_write_bytes, atomic_writer
from core.errors import ProjectError, UserError
from core.history import PassTree
from core.project import MIGRATIONS, Session, load_project, save_project
from core.project import files as project_files
from tests.tiny_models.images import make_image


def noise(width: int, height: int, mode: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = len(mode) if mode in ("RGB", "RGBA", "LA") else 1
    data = rng.integers(0, 256, size=(height, width, bands), dtype=np.uint8)
    return Image.fromarray(data[..., 0] if bands == 1 else data, mode)


def make_session() -> Session:
    tree = PassTree()
    tree.set_root(noise(40, 30, "RGB", 0), name="Original photo")
    first = tree.add(
        "root",
        noise(40, 30, "RGB", 1),
        {"strength": 0.7, "seed": 1234567890123, "prompt": 'a cat, 猫 \n "quoted"', "cfg": 7.5},
        duration=1.25,
        mask=noise(40, 30, "L", 2),
        strength_map=noise(40, 30, "L", 3),
    )
    second = tree.add(first.id, noise(80, 60, "RGBA", 4), {"kind": "upscale", "x": [1, None]})
    tree.add("root", noise(40, 30, "RGB", 5), {"strength": 0.3}, group="sweep-1", name="")
    tree.add("root", noise(40, 30, "RGB", 6), {"strength": 0.4}, group="sweep-1")
    tree.rename(second.id, "kept ✓")
    tree.select(second.id)
    ui = {"prompt": "cat", "steps": 20, "nested": {"a": [1.5, "b", True, None]}}
    return Session(tree, noise(40, 30, "L", 7), noise(40, 30, "L", 8), ui)


def same_image(a: Image.Image | None, b: Image.Image | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.mode == b.mode and a.size == b.size and a.tobytes() == b.tobytes()


def assert_same_session(loaded: Session, saved: Session) -> None:
    old, new = saved.tree, loaded.tree
    assert [r.id for r in new.records()] == [r.id for r in old.records()]
    for record in old.records():
        got = new.get(record.id)
        for field in ("parent_id", "name", "params", "duration", "created", "group"):
            assert getattr(got, field) == getattr(record, field), field
        assert type(got.duration) is float and type(got.created) is float
        for image in ("image", "mask", "strength_map"):
            assert same_image(getattr(got, image), getattr(record, image)), (record.id, image)
        assert [c.id for c in new.children(record.id)] == [c.id for c in old.children(record.id)]
    assert (new.root_id, new.current_id) == (old.root_id, old.current_id)
    assert same_image(loaded.mask, saved.mask)
    assert same_image(loaded.strength_map, saved.strength_map)
    assert loaded.ui == saved.ui


def test_round_trip_keeps_every_pixel_parameter_and_the_tree(tmp_path):
    session = make_session()
    path = save_project(tmp_path / "work.i2i", session)
    assert_same_session(load_project(path), session)


def test_round_trip_of_an_empty_session_and_of_other_image_modes(tmp_path):
    empty = Session()
    assert_same_session(load_project(save_project(tmp_path / "empty.i2i", empty)), empty)
    tree = PassTree()
    tree.set_root(noise(9, 7, "L", 1))
    tree.add("root", noise(9, 7, "LA", 2))
    tree.add("root", Image.new("1", (9, 7), 1))
    session = Session(tree)
    assert_same_session(load_project(save_project(tmp_path / "modes.i2i", session)), session)


def test_children_order_after_undo_of_a_delete_survives(tmp_path):
    session = make_session()
    tree = session.tree
    removed = tree.remove("p1")
    for record in removed:  # undo: p1 comes back after p3 and p4
        tree.insert(record)
    assert [c.id for c in tree.children("root")] == ["p3", "p4", "p1"]
    loaded = load_project(save_project(tmp_path / "undo.i2i", session))
    assert [c.id for c in loaded.tree.children("root")] == ["p3", "p4", "p1"]


def test_a_loaded_tree_numbers_new_passes_after_the_saved_ones(tmp_path):
    loaded = load_project(save_project(tmp_path / "a.i2i", make_session()))
    assert loaded.tree.add("p2", make_image(8, 8)).id == "p5"


def test_snapshot_is_detached_from_later_edits():
    session = make_session()
    snap = session.snapshot()
    session.tree.add("root", make_image(8, 8))
    session.mask.paste(255, (0, 0, 40, 30))
    session.ui["nested"]["a"].append(2)
    assert len(snap.tree) == 5 and snap.ui["nested"]["a"] == [1.5, "b", True, None]
    assert snap.mask.getextrema() != (255, 255)


def test_layers_that_are_not_mode_l_are_stored_as_grayscale(tmp_path):
    session = Session(mask=make_image(10, 10))
    loaded = load_project(save_project(tmp_path / "l.i2i", session))
    assert loaded.mask.mode == "L" and same_image(loaded.mask, session.mask.convert("L"))


def test_save_replaces_a_project_but_never_another_file(tmp_path):
    path = tmp_path / "x.i2i"
    save_project(path, make_session())
    save_project(path, Session(ui={"second": True}))
    assert load_project(path).ui == {"second": True}
    other = tmp_path / "holiday.png"
    make_image().save(other)
    before = other.read_bytes()
    with pytest.raises(ProjectError, match="not an Img2Img Studio project") as err:
        save_project(other, make_session())
    assert isinstance(err.value, UserError) and other.read_bytes() == before
    with pytest.raises(ProjectError, match="folder"):
        save_project(tmp_path, make_session())


def test_a_failing_save_leaves_the_previous_file_intact_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "x.i2i"
    save_project(path, make_session())
    before = path.read_bytes()
    calls = []

    def failing(zf, name, image, level):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        original(zf, name, image, level)

    original = project_files._write_member
    monkeypatch.setattr(project_files, "_write_member", failing)
    with pytest.raises(ProjectError, match="No space left on device") as err:
        save_project(path, make_session())
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.i2i"]


def test_parameters_that_are_not_json_are_refused_before_writing(tmp_path):
    session = make_session()
    session.tree.add("root", make_image(8, 8), {"strength": float("nan")})
    with pytest.raises(ProjectError, match="not JSON"):
        save_project(tmp_path / "x.i2i", session)
    assert list(tmp_path.iterdir()) == []


def test_atomic_writer_keeps_the_old_content_when_the_block_fails(tmp_path):
    path = atomic_write_bytes(tmp_path / "sub" / "f.bin", b"old")
    with pytest.raises(RuntimeError), atomic_writer(path) as fh:
        fh.write(b"new, half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and [p.name for p in path.parent.iterdir()] == ["f.bin"]
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"


# -- errors ------------------------------------------------------------------------------------
def rewrite(path, change_index=None, drop=(), add=None):
    """Copy the project at ``path`` with its index changed / members dropped or added."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    if change_index is not None:
        index = json.loads(members["project.json"])
        change_index(index)
        members["project.json"] = json.dumps(index).encode()
    members.update(add or {})
    out = path.with_name("changed.i2i")
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


@pytest.fixture
def saved(tmp_path):
    return save_project(tmp_path / "ok.i2i", make_session())


def load_error(path) -> str:
    with pytest.raises(ProjectError) as err:
        load_project(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


def test_files_that_are_not_projects(tmp_path):
    assert "no such file" in load_error(tmp_path / "missing.i2i")
    assert "folder" in load_error(tmp_path)
    (tmp_path / "text.i2i").write_text("hello")
    assert "not a zip archive" in load_error(tmp_path / "text.i2i")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    assert "no project.json" in load_error(tmp_path / "other.zip")


def test_missing_and_truncated_members(saved):
    assert "'images/00002.png' is missing" in load_error(rewrite(saved, drop=["images/00002.png"]))
    assert "'layers/mask.png' is missing" in load_error(rewrite(saved, drop=["layers/mask.png"]))
    data = saved.read_bytes()
    cut = saved.with_name("cut.i2i")
    cut.write_bytes(data[: len(data) // 2])
    load_error(cut)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda i: i.update(records={}), "'records' should be list, not object"),
        (lambda i: i["records"][1].update(params=[1]), "'params' should be object, not list"),
        (lambda i: i["records"][1].update(name=5), "'name' should be text, not number"),
        (lambda i: i["records"][1].update(duration="1"), "'duration' should be number"),
        (lambda i: i["records"][1].update(duration=True), "not boolean"),
        (lambda i: i["records"][1].pop("created"), "record 1 has no 'created'"),
        (lambda i: i["records"].__setitem__(2, "p2"), "record 2 should be an object"),
        (lambda i: i.update(ui=[]), "'ui' should be object"),
        (lambda i: i.update(current_id="p99"), "selected pass 'p99' does not exist"),
        (lambda i: i["records"][2].update(parent_id="p4"), "comes before its parent"),
        (lambda i: i["records"][2].update(id="p1"), "'p1' appears twice"),
        (lambda i: i["records"][1].update(parent_id=None), "only it, must be the original"),
        (lambda i: i.update(root_id="p1"), "its root is not the first record"),
        (lambda i: i["records"][1].update(image="images/00002.png"), "expected 'images/00001"),
        (lambda i: i.update(format="zip"), "not an Img2Img Studio project index"),
        (lambda i: i.update(schema_version="1"), "'schema_version' should be integer"),
        (lambda i: i.update(schema_version=-1), "project format -1 is not supported"),
    ],
)
def test_wrong_index_contents_are_one_line_errors(saved, change, expected):
    assert expected in load_error(rewrite(saved, change))


def test_an_index_that_is_not_json(saved):
    assert "not valid JSON" in load_error(rewrite(saved, add={"project.json": b"{nope"}))
    nan = b'{"format": "img2img-studio-project", "schema_version": NaN}'
    assert "NaN is not allowed" in load_error(rewrite(saved, add={"project.json": nan}))
    deep = b"[" * 100_000 + b"]" * 100_000
    assert "not valid JSON" in load_error(rewrite(saved, add={"project.json": deep}))


def test_a_newer_schema_version_asks_to_update(saved):
    message = load_error(rewrite(saved, lambda i: i.update(schema_version=2)))
    assert "made by a newer Img2Img Studio" in message and "update to open it" in message


def test_older_versions_are_migrated(saved, monkeypatch):
    def version_0(index):  # the synthetic version 0: no layers, no ui
        del index["ui"], index["layers"]
        index["schema_version"] = 0

    loaded = load_project(
        rewrite(saved, version_0, drop=["layers/mask.png", "layers/strength_map.png"])
    )
    assert loaded.ui == {} and loaded.mask is None and loaded.strength_map is None
    assert [r.id for r in loaded.tree.records()] == ["root", "p1", "p2", "p3", "p4"]

    def version_minus_1(index):  # a made-up older one, to check that migrations chain
        index["schema_version"] = -1
        index["old_names"] = {r["id"]: r.pop("name") for r in index["records"]}

    def upgrade(index):
        for record in index["records"]:
            record["name"] = index["old_names"][record["id"]]
        return {**index, "schema_version": 0}

    monkeypatch.setitem(MIGRATIONS, -1, upgrade)
    loaded = load_project(
        rewrite(saved, version_minus_1, drop=["layers/mask.png", "layers/strength_map.png"])
    )
    assert loaded.tree.get("p2").name == "kept ✓" and loaded.ui == {} and loaded.mask is None
