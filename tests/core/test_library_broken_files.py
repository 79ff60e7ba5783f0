"""A scan over a folder of broken files: each bad file (a header nested thousands deep, an
impossible header length, a truncated file, a pipe, a link loop, a dangling link, a file that
cannot be opened) is reported in one line, and every good file next to them is registered, by
the library and by ``models scan``."""

from __future__ import annotations

import builtins
import os
import struct

import pytest

from core.cli.main import main
from core.library.registry import ModelLibrary
from tests.core.library_helpers import write_corrupt, write_model

GOOD = {"good_vae", "good_lora"}


def _header_file(path, header: bytes, length: int | None = None) -> None:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header)


def broken_folder(root):
    """Two good models among one bad file of each kind; returns the bad files' names."""
    root.mkdir(parents=True)
    write_model(root / "good_vae.safetensors", "vae")
    write_model(root / "good_lora.safetensors", "sd1_lora")
    _header_file(root / "deep.safetensors", b"[" * 200_000 + b"]" * 200_000)
    _header_file(root / "deep_table.safetensors", b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    _header_file(root / "huge_length.safetensors", b"{}", length=2**63)
    write_corrupt(root / "not_json.safetensors")
    (root / "truncated.safetensors").write_bytes(b"\x05\x00")
    (root / "empty.safetensors").write_bytes(b"")
    os.mkfifo(root / "pipe.safetensors")  # opening it would block the scan forever
    (root / "loop_a.safetensors").symlink_to(root / "loop_b.safetensors")
    (root / "loop_b.safetensors").symlink_to(root / "loop_a.safetensors")
    (root / "dangling.safetensors").symlink_to(root / "nowhere.safetensors")
    write_model(root / "locked.safetensors", "vae")  # open() is refused for it below
    (root / "folder.safetensors").mkdir()  # a folder with a model's name: walked, not a file
    return {
        "deep.safetensors", "deep_table.safetensors", "huge_length.safetensors",
        "not_json.safetensors", "truncated.safetensors", "empty.safetensors",
        "pipe.safetensors", "loop_a.safetensors", "loop_b.safetensors",
        "dangling.safetensors", "locked.safetensors",
    }  # fmt: skip


@pytest.fixture
def locked_file(monkeypatch):
    """``open`` refuses ``locked.safetensors`` as an unreadable file would (tests run as root,
    where chmod 000 does not stop a read)."""
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if str(file).endswith("locked.safetensors"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)


pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX pipes and links")


def test_a_scan_survives_every_bad_file_and_reports_each_in_one_line(tmp_path, locked_file):
    bad = broken_folder(tmp_path / "models")
    library = ModelLibrary(tmp_path / "library.json")
    reported = []
    items = library.scan(tmp_path / "models", on_problem=reported.append)
    assert {item.name for item in items} == GOOD
    assert {p.path.name for p in library.problems} == bad
    assert reported == library.problems
    for problem in library.problems:
        assert "\n" not in problem.reason and len(problem.reason) < 200, problem.reason
    reasons = {p.path.name: p.reason for p in library.problems}
    assert "nests too deeply" in reasons["deep.safetensors"]
    assert "nests too deeply" in reasons["deep_table.safetensors"]
    assert "impossible" in reasons["huge_length.safetensors"]
    assert "not a regular file" in reasons["pipe.safetensors"]
    assert "Permission denied" in reasons["locked.safetensors"]
    assert {i.name for i in ModelLibrary(tmp_path / "library.json").items()} == GOOD  # saved


def test_models_scan_prints_one_line_per_bad_file(tmp_path, capsys, locked_file):
    bad = broken_folder(tmp_path / "models")
    assert main(["models", "scan", str(tmp_path / "models"), "--no-hash"]) == 0
    out, err = capsys.readouterr()
    skipped = [line for line in err.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == len(bad), err
    assert all(any(name in line for line in skipped) for name in bad), err
    assert "Traceback" not in err
    assert f"registered {len(GOOD)} models" in out and f"{len(bad)} skipped" in out


def test_a_link_loop_between_folders_is_walked_once(tmp_path):
    root = tmp_path / "models"
    write_model(root / "sub" / "only.safetensors", "vae")
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)
    library = ModelLibrary(tmp_path / "library.json")
    assert [i.name for i in library.scan(root)] == ["only"]
    assert library.problems == []


def test_a_diffusers_folder_with_a_link_loop_and_a_deep_index_is_one_model(tmp_path):
    model = tmp_path / "models" / "odd-pipeline"
    (model / "unet").mkdir(parents=True)
    (model / "model_index.json").write_text("[" * 100_000 + "]" * 100_000)
    (model / "unet" / "weights.bin").write_bytes(b"0" * 1000)
    (model / "unet" / "loop").symlink_to(model, target_is_directory=True)
    library = ModelLibrary(tmp_path / "library.json")
    (item,) = library.scan(tmp_path / "models", hashes=False)
    assert (item.name, item.kind, item.family) == ("odd-pipeline", "diffusers", "")
    assert item.size_bytes == 200_000 + 1000  # each file once, not once per turn of the loop
