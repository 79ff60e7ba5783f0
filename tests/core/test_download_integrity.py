"""A download counts as complete only once it is on disk and is what the hub published: fsynced
before the rename out of ``.incomplete``, and checked against the sha256 the hub lists for LFS
files. A corrupt file is refused with one line and not kept; a full disk at sync time leaves
nothing that looks complete."""

from __future__ import annotations

import hashlib
import os

import pytest

from core.errors import ModelError
from core.library import download
from core.library.catalog import cached_path
from core.library.download import download_model
from core.library.hub_cache import remove_cached
from tests.core.fake_hub import REPO, FakeHub
from tests.faults import fsync_fails

UNET = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def hub(tiny_model_dir, tmp_path, monkeypatch):
    fake = FakeHub(tiny_model_dir, tmp_path / "hub").install(monkeypatch)
    yield fake
    fake.close()


def _blobs(hub: FakeHub) -> list[str]:
    folder = hub.snapshot().parent.parent / "blobs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_corrupt_download_is_refused_with_one_line_and_not_kept(hub):
    hub.corrupt = {UNET}
    with pytest.raises(ModelError) as caught:
        download_model(REPO, lambda event: None)
    message = str(caught.value)
    assert "\n" not in message and UNET in message and "corrupt" in message and "sha256" in message
    good = hashlib.sha256(hub.files[UNET]).hexdigest()
    assert not any(name.startswith(good) for name in _blobs(hub))  # neither blob nor partial
    assert cached_path(REPO) is None

    hub.corrupt = set()  # the next try fetches it whole and keeps it
    folder = download_model(REPO, lambda event: None)
    assert (hub.snapshot() / UNET).read_bytes() == hub.files[UNET]
    assert cached_path(REPO) == hub.snapshot() and folder == str(hub.snapshot())


def test_a_whole_but_corrupt_partial_file_is_not_moved_into_place(hub):
    download_model(REPO, lambda event: None)
    blob = (hub.snapshot() / UNET).resolve()
    remove_cached(REPO)
    blob.parent.mkdir(parents=True)
    partial = blob.with_name(blob.name + ".incomplete")
    data = hub.files[UNET]
    partial.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))  # the right size, a bit flipped
    with pytest.raises(ModelError, match="corrupt"):
        download_model(REPO, lambda event: None)
    assert not blob.exists() and not partial.exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc")
def test_each_file_is_fsynced_before_it_counts_as_complete(hub, monkeypatch):
    synced: set[str] = set()
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.add(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src, dst) -> None:
        if str(src).endswith(".incomplete"):
            assert os.path.realpath(src) in synced, f"{src} renamed before it was synced"
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    download_model(REPO, lambda event: None)
    assert cached_path(REPO) == hub.snapshot()


def test_a_full_disk_at_sync_time_leaves_no_complete_looking_file(hub, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 4096)
    with fsync_fails(), pytest.raises(ModelError) as caught:
        download_model(REPO, lambda event: None)
    assert "\n" not in str(caught.value) and "cannot write" in str(caught.value)
    assert all(name.endswith(".incomplete") for name in _blobs(hub)), _blobs(hub)
    assert cached_path(REPO) is None
