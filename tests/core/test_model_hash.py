"""Model hashes: the A1111 short hash, computed once in the background, never blocking a pass."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

import core.hashing
from core.engine import Engine
from core.metadata import read_metadata, write_png
from core.models import ModelManager, ModelSpec
from core.requests import PassRequest
from tests.tiny_models.images import make_image


def _short_sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


@pytest.fixture
def slow_hash(monkeypatch):
    """Every chunk the hasher reads waits until ``gate`` is set (or 20 s)."""
    gate = threading.Event()
    reads: list[int] = []
    real_read = getattr(core.hashing, "_read_chunk", None)

    def read(fh, size):
        reads.append(size)
        gate.wait(60)
        return real_read(fh, size) if real_read else fh.read(size)

    monkeypatch.setattr(core.hashing, "_read_chunk", read, raising=False)
    monkeypatch.setattr(core.hashing, "CHUNK_SIZE", 1 << 16, raising=False)
    yield gate, reads
    gate.set()


def test_the_pass_does_not_wait_for_a_slow_hash_and_the_png_gets_it(
    slow_hash, tiny_single_file, tiny_model_dir, tmp_path
):
    gate, reads = slow_hash
    spec = ModelSpec(str(tiny_single_file), config=str(tiny_model_dir), device="cpu")
    engine = Engine(previews=False)
    started = time.perf_counter()
    result = engine.run_pass(PassRequest(make_image(64, 64), "x", steps=2, seed=1), spec)
    assert time.perf_counter() - started < 40, "the pass waited for the hash"
    assert result.model_hash == "" and result.record["model"]["hash"] == ""
    gate.set()  # the hash may finish now; the writer waits for it

    record = core.hashing.complete_model_hash(result.record, timeout=30)
    out = write_png(tmp_path / "out.png", result.image, record)
    parsed = read_metadata(out)["parsed"]
    assert parsed["model_hash"] == _short_sha(tiny_single_file)
    assert reads, "the hash was read through the chunk reader"
    assert result.record["model"]["hash"] == ""  # the pass's own record is left as it was


def test_hashing_starts_at_load_runs_once_and_lands_in_later_records(
    tiny_single_file, tiny_model_dir, monkeypatch
):
    spec = ModelSpec(str(tiny_single_file), config=str(tiny_model_dir), device="cpu")
    engine = Engine(previews=False)
    model = engine.models.load(spec)
    assert model.wait_for_hash(timeout=30) == _short_sha(tiny_single_file)
    result = engine.run_pass(PassRequest(make_image(64, 64), "x", steps=2, seed=1), spec)
    assert result.model_hash == result.record["model"]["hash"] == _short_sha(tiny_single_file)

    def no_reading(fh, size):
        raise AssertionError("the file was hashed twice")

    monkeypatch.setattr(core.hashing, "_read_chunk", no_reading)
    manager = ModelManager()
    again = manager.load(spec)
    assert again.wait_for_hash(timeout=30) == _short_sha(tiny_single_file)


def test_folder_models_hash_their_unet_weights(tiny_model_dir):
    model = ModelManager().load(ModelSpec(str(tiny_model_dir), device="cpu"))
    unet = tiny_model_dir / "unet" / "diffusion_pytorch_model.safetensors"
    assert model.wait_for_hash(timeout=30) == _short_sha(unet)


def test_unloading_stops_the_hash_between_chunks(
    slow_hash, tiny_single_file, tiny_model_dir, tmp_path
):
    gate, reads = slow_hash
    manager = ModelManager()
    spec = ModelSpec(str(tiny_single_file), config=str(tiny_model_dir), device="cpu")
    model = manager.load(spec)
    deadline = time.monotonic() + 10
    while not reads and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.unload()
    gate.set()
    assert model.wait_for_hash(timeout=5) == ""
    time.sleep(0.2)
    assert len(reads) <= 2, "hashing went on after the model was unloaded"
    cache = tmp_path / "cache" / "hashes.json"
    assert not cache.exists() or _short_sha(tiny_single_file) not in cache.read_text()


def test_waiting_for_a_hash_stops_when_the_token_is_cancelled(
    slow_hash, tiny_single_file, tiny_model_dir
):
    from core.engine import CancelToken

    spec = ModelSpec(str(tiny_single_file), config=str(tiny_model_dir), device="cpu")
    model = ModelManager().load(spec)
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.perf_counter()
    assert model.wait_for_hash(timeout=20, cancel=token) == ""
    assert time.perf_counter() - started < 5
    slow_hash[0].set()


def test_a_writer_gets_the_hash_even_after_the_model_was_replaced(
    slow_hash, tiny_single_file, tiny_model_dir, tmp_path
):
    gate, _ = slow_hash
    spec = ModelSpec(str(tiny_single_file), config=str(tiny_model_dir), device="cpu")
    engine = Engine(previews=False)
    result = engine.run_pass(PassRequest(make_image(64, 64), "x", steps=2, seed=1), spec)
    engine.models.load(ModelSpec(str(tiny_model_dir), device="cpu"))  # cancels the first hash
    gate.set()
    record = core.hashing.complete_model_hash(result.record, timeout=30)
    assert record["model"]["hash"] == _short_sha(tiny_single_file)


def test_the_hash_cache_is_written_atomically_by_concurrent_hashers(tmp_path):
    files = []
    for i in range(6):
        path = tmp_path / f"w{i}.safetensors"
        path.write_bytes(bytes([i]) * 5000)
        files.append(path)
    threads = [threading.Thread(target=core.hashing.cached_file_hash, args=(p,)) for p in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cache = (tmp_path / "cache" / "hashes.json").read_text()
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() in cache
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_a_file_rewritten_within_the_same_second_with_the_same_size_is_hashed_again(tmp_path):
    import hashlib
    import os

    from core.hashing import cached_file_hash

    path = tmp_path / "style.safetensors"
    second_start = 1_700_000_000 * 10**9
    path.write_bytes(b"a" * 64)
    os.utime(path, ns=(second_start, second_start + 5))
    first = cached_file_hash(path)
    path.write_bytes(b"b" * 64)  # the same size, within the same second
    os.utime(path, ns=(second_start, second_start + 900))
    second = cached_file_hash(path)
    assert first == hashlib.sha256(b"a" * 64).hexdigest()
    assert second == hashlib.sha256(b"b" * 64).hexdigest()
