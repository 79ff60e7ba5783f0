"""A pass's control images are kept with it: in the history record and in project files."""

from __future__ import annotations

import json
import zipfile

import pytest
from PIL import Image

from core.errors import UserError
from core.history import PassTree
from core.project import Session, load_project, save_project
from tests.tiny_models.images import make_image


def control_session() -> Session:
    tree = PassTree()
    tree.set_root(make_image(40, 30), name="Original")
    edges = Image.new("RGB", (40, 32), "black")
    edges.paste((255, 255, 255), (10, 10, 30, 12))
    depth = Image.linear_gradient("L").resize((40, 32)).convert("RGB")
    tree.add("root", make_image(40, 30), {"strength": 0.5}, control_images=(edges, depth))
    tree.add("root", make_image(40, 30), {"strength": 0.3})
    return Session(tree, None, None, {})


def test_project_round_trip_keeps_each_pass_control_images(tmp_path):
    session = control_session()
    path = save_project(tmp_path / "p.i2i", session)
    with zipfile.ZipFile(path) as zf:
        assert {"controls/00001-0.png", "controls/00001-1.png"} <= set(zf.namelist())
        index = json.loads(zf.read("project.json"))
    assert "controls" not in index["records"][2]  # no control layers: the entry is as before
    loaded = load_project(path)
    before, after = session.tree.records()[1], loaded.tree.records()[1]
    assert len(after.control_images) == 2
    for old, new in zip(before.control_images, after.control_images, strict=True):
        assert new.size == old.size and new.convert("RGB").tobytes() == old.tobytes()
    assert loaded.tree.records()[2].control_images == ()


def test_project_control_member_names_are_checked(tmp_path):
    path = save_project(tmp_path / "p.i2i", control_session())
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    index = json.loads(members["project.json"])
    index["records"][1]["controls"][1] = "controls/../../evil.png"
    members["project.json"] = json.dumps(index).encode()
    bad = tmp_path / "bad.i2i"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(UserError, match="expected 'controls/00001-1.png'"):
        load_project(bad)
