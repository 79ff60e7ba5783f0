"""Every file core writes goes through core.atomic: a full disk or a write that fails half way
gives a one-line error naming the file, keeps the previous file byte-identical and leaves no
temporary file behind."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from PIL import Image

import core.models.files
from core.atomic_io import atomic_save_image, atomic_write_text
from core.errors import ModelError, UserError
from core.hashing import cached_file_hash, file_sha256
from core.metadata import read_metadata, write_png
from core.models.files import BUNDLED_CONFIGS, bundled_config_for
from core.user_dirs import user_cache_dir
from tests.faults import DISK_FULL, fsync_fails, snapshot, temp_files, writes_fail_half_way
from tests.tiny_models.images import make_image

RECORD = {"prompt": "a harbour", "steps": 10, "cfg": 7.0, "seed": 3, "strength": 0.5}


@pytest.fixture
def previous_png(tmp_path):
    path = write_png(tmp_path / "out.png", make_image(16, 16), RECORD)
    return path, path.read_bytes()


def _one_line_naming(exc: BaseException, path) -> str:
    text = str(exc)
    assert "\n" not in text and str(path) in text, text
    return text


def test_write_png_on_a_full_disk_keeps_the_previous_file(tmp_path, previous_png):
    path, before = previous_png
    with fsync_fails(), pytest.raises(UserError) as caught:
        write_png(path, make_image(16, 16, seed=9), {**RECORD, "seed": 4}, overwrite=True)
    assert _one_line_naming(caught.value, path) == f"cannot write {path}: {DISK_FULL}"
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_write_png_failing_half_way_keeps_the_previous_file(tmp_path, previous_png):
    path, before = previous_png
    with writes_fail_half_way(), pytest.raises(UserError, match=DISK_FULL):
        write_png(path, make_image(16, 16, seed=9), RECORD, overwrite=True)
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_a_crash_inside_the_writer_keeps_the_previous_file(tmp_path, previous_png, monkeypatch):
    path, before = previous_png

    def crash_after_some_bytes(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG\r\n\x1a\n half a picture")
        raise KeyboardInterrupt  # the process is being stopped mid-write

    monkeypatch.setattr(Image.Image, "save", crash_after_some_bytes)
    with pytest.raises(KeyboardInterrupt):
        write_png(path, make_image(16, 16), RECORD, overwrite=True)
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_text_and_image_helpers_write_atomically(tmp_path):
    text = atomic_write_text(tmp_path / "a" / "note.json", '{"é": 1}')
    assert json.loads(text.read_text(encoding="utf-8")) == {"é": 1}
    picture = atomic_save_image(tmp_path / "p.png", make_image(8, 8), format="PNG")
    assert Image.open(picture).size == (8, 8)
    before = snapshot(tmp_path)
    with fsync_fails(), pytest.raises(OSError):
        atomic_write_text(text, "new")
    with writes_fail_half_way(), pytest.raises(OSError):
        atomic_save_image(picture, make_image(8, 8, seed=2), format="PNG")
    assert snapshot(tmp_path) == before


def test_the_hash_cache_is_kept_when_the_disk_is_full(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights" * 100)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"other")
    assert cached_file_hash(weights) == file_sha256(weights)
    cache = user_cache_dir() / "hashes.json"
    before = cache.read_bytes()
    with fsync_fails():
        assert cached_file_hash(other) == file_sha256(other)  # the hash is right, not remembered
    assert cache.read_bytes() == before
    assert temp_files(cache.parent) == []


def test_the_inpaint_config_is_never_left_half_assembled(monkeypatch):
    real_copytree = core.models.files.shutil.copytree

    def copy_then_fail(src, dst, *args, **kwargs):
        if Path(src) == BUNDLED_CONFIGS / "sd15-inpaint":  # the shared part is copied already
            raise OSError(errno.ENOSPC, DISK_FULL)
        return real_copytree(src, dst, *args, **kwargs)

    monkeypatch.setattr(core.models.files.shutil, "copytree", copy_then_fail)
    with pytest.raises(ModelError, match=DISK_FULL):
        bundled_config_for("sd1", is_inpaint=True)
    configs = user_cache_dir() / "configs"
    assert not (configs / "sd15-inpaint").exists()  # no half config a later load would use
    assert [p.name for p in configs.iterdir()] == []
    monkeypatch.setattr(core.models.files.shutil, "copytree", real_copytree)
    folder = bundled_config_for("sd1", is_inpaint=True)
    assert json.loads((folder / "unet" / "config.json").read_text())["in_channels"] == 9
    assert bundled_config_for("sd1", is_inpaint=True) == folder  # assembled once


def test_write_png_still_refuses_an_existing_file(tmp_path, previous_png):
    path, before = previous_png
    with pytest.raises(UserError, match="already exists"):
        write_png(path, make_image(16, 16), RECORD)
    assert path.read_bytes() == before
    assert read_metadata(path)["record"]["seed"] == 3


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o444])
def test_an_atomic_replace_keeps_the_replaced_files_permissions(tmp_path, mode):
    path = tmp_path / "private.json"
    path.write_text("{}")
    path.chmod(mode)
    atomic_write_text(path, '{"new": true}')
    assert path.read_text() == '{"new": true}'
    assert stat.S_IMODE(path.stat().st_mode) == mode  # a private file stays private


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_new_file_gets_the_umasks_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_private_mode_makes_the_file_private_before_it_is_renamed(tmp_path, monkeypatch):
    path = tmp_path / "token"
    path.write_text("old")
    path.chmod(0o644)
    seen: list[int] = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))  # the temporary file, before the rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    atomic_write_text(path, "secret", mode=0o600)
    assert seen == [0o600] and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "secret"
