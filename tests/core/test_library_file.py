"""``library.json`` shared and kept: a newer version's file is read but never changed or set
aside, rows of unknown kinds and unknown fields survive a write, and several processes changing
the library at once (window, CLI, worker) lose none of each other's entries."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from core.errors import ModelError
from core.library.library_file import SCHEMA_VERSION
from core.library.registry import ModelLibrary
from tests.core.library_helpers import write_model


def _row(path: Path, kind: str = "vae", **extra) -> dict:
    return {
        "id": "abc123", "name": path.stem, "kind": kind, "family": "", "path": str(path),
        "size_bytes": 10, "source": "added", "hash": "", "stamp": [10, 0.0], **extra,
    }  # fmt: skip


def test_a_file_from_a_newer_version_is_read_but_never_changed(tmp_path):
    path = tmp_path / "library.json"
    known = tmp_path / "known.safetensors"
    content = {
        "version": SCHEMA_VERSION + 1,
        "folders": [{"path": str(tmp_path / "webui"), "source": "a1111"}],
        "items": [_row(known, colour="red"), _row(tmp_path / "x.gguf", kind="gguf")],
        "collections": [{"name": "favourites"}],
    }
    path.write_text(json.dumps(content))
    before = path.read_bytes()
    library = ModelLibrary(path)
    assert [i.name for i in library.items()] == ["known"]  # what this version understands
    write_model(tmp_path / "new" / "vae.safetensors", "vae")
    for change in (
        lambda: library.scan(tmp_path / "new"),
        lambda: library.add_file(tmp_path / "new" / "vae.safetensors"),
        lambda: library.remove("known"),
    ):
        with pytest.raises(ModelError) as caught:
            change()
        message = str(caught.value)
        assert "newer" in message and "\n" not in message
    assert path.read_bytes() == before
    assert not (tmp_path / "library.json.corrupt").exists()


def test_a_newer_file_with_another_layout_is_not_set_aside(tmp_path):
    path = tmp_path / "library.json"
    path.write_text(json.dumps({"version": 7, "items": {"by-id": {}}}))
    library = ModelLibrary(path)
    assert library.items() == [] and any("newer" in w for w in library.warnings)
    assert json.loads(path.read_text())["version"] == 7
    assert not (tmp_path / "library.json.corrupt").exists()


def test_rows_of_unknown_kinds_and_unknown_fields_are_kept_and_skipped(tmp_path):
    path = tmp_path / "library.json"
    unknown = _row(tmp_path / "style.pt", kind="hypernetwork")
    broken = {"kind": "vae", "name": "no path"}
    content = {
        "version": SCHEMA_VERSION,
        "folders": [],
        "items": [_row(tmp_path / "known.safetensors", note="mine"), unknown, broken],
        "theme": "dark",
    }
    path.write_text(json.dumps(content))
    library = ModelLibrary(path)
    assert [i.name for i in library.items()] == ["known"]  # the rest skipped, not the file
    assert any("2 entries" in w for w in library.warnings)
    write_model(tmp_path / "more" / "extra.safetensors", "vae")
    library.scan(tmp_path / "more")

    saved = json.loads(path.read_text())
    assert unknown in saved["items"] and broken in saved["items"]
    assert saved["theme"] == "dark"
    assert next(r for r in saved["items"] if r.get("name") == "known")["note"] == "mine"
    assert {i.name for i in ModelLibrary(path).items()} == {"known", "extra"}


def _add_files(library_path: str, files: list[str], start) -> None:
    start.wait()  # every process starts changing the library at the same moment
    library = ModelLibrary(Path(library_path))
    for name in files:
        library.add_file(Path(name))


def test_concurrent_writers_lose_none_of_each_others_entries(tmp_path):
    processes, per_process = 4, 6
    groups = []
    for p in range(processes):
        group = [
            write_model(tmp_path / f"p{p}" / f"m{i}.safetensors", "vae") for i in range(per_process)
        ]
        groups.append([str(f) for f in group])
    library_path = tmp_path / "library.json"
    context = multiprocessing.get_context("spawn")  # no fork of a process that loaded torch
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_add_files, args=(str(library_path), group, start))
        for group in groups
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    registered = {str(i.path) for i in ModelLibrary(library_path).items()}
    assert registered == {f for group in groups for f in group}


def test_a_library_file_that_cannot_be_read_is_not_written_over(tmp_path, monkeypatch):
    path = tmp_path / "library.json"
    path.write_text(json.dumps({"version": 1, "folders": [], "items": [_row(tmp_path / "a.sft")]}))
    before = path.read_bytes()
    real_read = Path.read_bytes

    def refusing(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", refusing)
    library = ModelLibrary(path)
    assert library.items() == [] and "Permission denied" in library.warnings[0]
    write_model(tmp_path / "new" / "vae.safetensors", "vae")
    with pytest.raises(ModelError, match="cannot read .* left as it is"):
        library.scan(tmp_path / "new")
    monkeypatch.undo()
    assert path.read_bytes() == before
