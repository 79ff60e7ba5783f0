"""Autosaves that are private to the user and never lost: an unreadable one is renamed aside and
kept, one that cannot be read for now stays where it is, both reported in one line."""

from __future__ import annotations

import json
import os
import stat
import sys
import zipfile

import pytest

from core.errors import ProjectError
from core.project import AutosaveStore, Session, save_project
from tests.tiny_models.images import make_image

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def session() -> Session:
    session = Session(ui={"marker": 1})
    session.tree.set_root(make_image(16, 12))
    return session


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_autosaves_and_their_folder_are_private_to_the_user(tmp_path):
    old_umask = os.umask(0o022)  # the usual umask: files 0644, folders 0755
    try:
        folder = tmp_path / "autosave"
        folder.mkdir(mode=0o755)  # left by an older version
        store = AutosaveStore(folder)
        path = store.save(session())
        assert mode(folder) == 0o700
        assert mode(path) == 0o600
        assert mode(folder / f"{path.stem}.lock") == 0o600
        path.chmod(0o644)  # an autosave written before this version
        store.save(session())
        assert mode(store.path) == 0o600
        store.mark_clean_exit()
    finally:
        os.umask(old_umask)


def leftover(folder, data: bytes | None = None):
    """An autosave as a dead process leaves it (no lock held)."""
    path = folder / "autosave-999999-0badc0de.i2i"
    save_project(path, session())
    if data is not None:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "damage",
    [b"not a zip at all", b"PK\x03\x04" + bytes(100), None],
    ids=["not-a-zip", "truncated-zip", "broken-index"],
)
def test_an_unreadable_autosave_is_renamed_aside_and_kept(tmp_path, damage):
    path = leftover(tmp_path)
    if damage is None:  # a zip whose project.json is not JSON
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("project.json", "{not json")
    else:
        path.write_bytes(damage)
    content = path.read_bytes()
    store = AutosaveStore(tmp_path)
    assert store.recoverable() == [path]
    with pytest.raises(ProjectError) as failed:
        store.load(path)
    message = str(failed.value)
    assert "\n" not in message and str(path) in message
    (aside,) = [p for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert message.endswith(f"it was kept as {aside}")
    assert aside.name.startswith("autosave-999999-0badc0de.unreadable-")
    assert aside.suffix == ".i2i" and aside.read_bytes() == content
    assert store.recoverable() == []  # no longer offered, and not tidied away either
    assert aside.exists()


def test_an_autosave_of_a_newer_version_stays_in_place(tmp_path):
    path = leftover(tmp_path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    index = json.loads(members["project.json"])
    index["schema_version"] = 99
    members["project.json"] = json.dumps(index).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    store = AutosaveStore(tmp_path)
    with pytest.raises(ProjectError, match="made by a newer Img2Img Studio"):
        store.load(path)
    assert store.recoverable() == [path]  # kept where it is, offered again


def test_load_only_takes_autosaves_of_its_folder(tmp_path):
    elsewhere = tmp_path / "autosave-999999-0badc0de.i2i"
    save_project(elsewhere, session())
    store = AutosaveStore(tmp_path / "autosave")
    with pytest.raises(ProjectError, match="not an autosave"):
        store.load(elsewhere)
    with pytest.raises(ProjectError, match="not an autosave"):
        store.set_aside(elsewhere)
    assert elsewhere.exists()
