"""The one place that hashes things: pixels, files, big weights files (cached on disk, in the
background, cancellable) and the short model hash written into PNGs.

Model hashes (what file is hashed is decided in ``core.models.hashes``) start when a model
loads (:func:`hash_model_file`); a pass records the hash only if it is known by then, and whoever
writes a record to a file completes it first with :func:`complete_model_hash`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

from PIL import Image

from core.atomic_io import atomic_write_text
from core.threads import run_in_background
from core.user_dirs import user_cache_dir

CHUNK_SIZE = 1 << 24  # 16 MiB: a cancel stops hashing within one chunk
SHORT_HASH = 10  # hex digits of a model hash, as A1111 and model sites write it
_CACHE_LOCK = threading.Lock()
_MODELS_LOCK = threading.Lock()
_MODEL_HASHES: dict[str, BackgroundHash] = {}  # model reference → the hash of its weights file


class HashCancelled(Exception):
    """Hashing stopped between two chunks because it was cancelled."""


class Cancelled(Protocol):
    """Anything with a ``cancelled`` flag (a CancelToken, a BackgroundHash's stop flag)."""

    @property
    def cancelled(self) -> bool: ...


def pixel_hash(img: Image.Image) -> str:
    """First 16 hex digits of the sha256 of the image's mode, size and raw pixel bytes."""
    digest = hashlib.sha256(f"{img.mode}:{img.width}x{img.height}:".encode())
    digest.update(img.tobytes())
    return digest.hexdigest()[:16]


def _read_chunk(fh: IO[bytes], size: int) -> bytes:
    return fh.read(size)


def file_sha256(path: str | Path, chunk: int | None = None, cancel: Cancelled | None = None) -> str:
    """Full sha256 hex digest of a file, read in ``chunk``-byte pieces.

    Raises :class:`HashCancelled` between two pieces once ``cancel.cancelled`` is true.
    """
    digest = hashlib.sha256()
    size = chunk or CHUNK_SIZE
    with open(path, "rb") as fh:
        while True:
            if cancel is not None and cancel.cancelled:
                raise HashCancelled(str(path))
            block = _read_chunk(fh, size)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def _cache_key(path: Path) -> str:
    """Path, size, inode and mtime in nanoseconds: a file rewritten with the same size within
    the same second (a LoRA re-exported over itself) must not get the old file's hash."""
    stat = path.stat()
    return f"{path}|{stat.st_size}|{stat.st_ino}|{stat.st_mtime_ns}"


def _read_cache(cache_file: Path) -> dict[str, str]:
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def cached_file_hash(path: str | Path, cancel: Cancelled | None = None) -> str:
    """sha256 of a (large) weights file, hashed once and remembered by path, size, inode and mtime.

    The cache file is rewritten atomically (:func:`core.atomic_io.atomic_write_text`) and
    re-read just before, so concurrent hashers keep each other's entries. Raises
    :class:`HashCancelled` when ``cancel`` stops it; nothing is cached then.
    """
    path = Path(path).resolve()
    key = _cache_key(path)
    cache_file = user_cache_dir() / "hashes.json"
    known = _read_cache(cache_file).get(key)
    if known:
        return str(known)
    digest = file_sha256(path, cancel=cancel)
    with _CACHE_LOCK:
        cache = _read_cache(cache_file)
        cache[key] = digest
        with contextlib.suppress(OSError):  # the hash is still right, just not remembered
            atomic_write_text(cache_file, json.dumps(cache))
    return digest


class BackgroundHash:
    """``cached_file_hash(path)`` on a daemon thread, started at once; cancellable.

    ``value`` is the full sha256 hex digest once known (else None); ``wait`` blocks for it.
    A cancelled or failed hash ends with ``value`` None and ``finished`` True.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.value: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-hash", daemon=True)
        self._thread.start()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Stop hashing between two chunks (no effect once finished)."""
        self._stop.set()

    def wait(self, timeout: float | None = None, cancel: Cancelled | None = None) -> str | None:
        """The digest, waiting up to ``timeout`` seconds (None: until it ends) or until ``cancel``
        is cancelled; None when it is not known by then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.wait(0.05):
            if cancel is not None and cancel.cancelled:
                return None
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return self.value

    def _run(self) -> None:
        run_in_background()
        try:
            self.value = cached_file_hash(self.path, cancel=self)
        except (HashCancelled, OSError):
            self.value = None
        finally:
            self._done.set()


def hash_model_file(reference: str, path: str | Path) -> BackgroundHash:
    """Start hashing the weights file of the model loaded from ``reference`` (the reference a
    pass record names), so that :func:`complete_model_hash` can find it later."""
    job = BackgroundHash(path)
    with _MODELS_LOCK:
        _MODEL_HASHES[reference] = job
    return job


def model_hash(
    reference: str, timeout: float | None = None, cancel: Cancelled | None = None
) -> str:
    """The short hash of the model last loaded from ``reference``, waiting for it up to
    ``timeout`` seconds (None: until done) or until ``cancel`` is cancelled.

    A hash stopped because its model was unloaded is started again: the caller wants it.
    "" when not known in time, or when no weights file of that reference was hashed.
    """
    with _MODELS_LOCK:
        job = _MODEL_HASHES.get(reference)
        if job is not None and job.cancelled and job.value is None:
            job = _MODEL_HASHES[reference] = BackgroundHash(job.path)
    if job is None:
        return ""
    digest = job.wait(timeout, cancel)
    return digest[:SHORT_HASH] if digest else ""


def complete_model_hash(
    record: dict[str, Any], timeout: float | None = None, cancel: Cancelled | None = None
) -> dict[str, Any]:
    """A pass record with its model hash filled in, for whoever writes it to a file.

    Waits for the background hash up to ``timeout`` seconds (None: until done) or until
    ``cancel`` is cancelled. Returns a new dict when the hash was added, else ``record`` itself
    (already complete, no model, or the hash not known in time); ``record`` is never changed.
    """
    model = record.get("model")
    if not isinstance(model, dict) or model.get("hash") or not model.get("reference"):
        return record
    short = model_hash(str(model["reference"]), timeout, cancel)
    if not short:
        return record
    return {**record, "model": {**model, "hash": short}}
