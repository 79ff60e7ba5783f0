"""Hugging Face hub models: download only what the pipeline uses, with byte progress, cancel
and resume; read the cache when offline (``core.library.hub_cache``).

From a repo, only the components ``model_index.json`` names and the img2img/inpaint pipelines
load are fetched (never the safety checker, feature extractor or image encoder), each with its
config/tokenizer files and its ``.safetensors`` weights: the ``fp16`` variant
(``*.fp16.safetensors``) when half precision is wanted and the repo has it, else the full ones.
Pickled weights (``.bin``, ``.ckpt``, ``.pt``) are never fetched; a component that has nothing
else is refused.

Each file goes into the ordinary HF cache (``models--org--name/blobs``, ``snapshots/<commit>``,
``refs/main``), fetched here over HTTP in chunks: a cancel stops between two chunks and leaves
``blobs/<etag>.incomplete``, which the next download continues with a ``Range`` request
(huggingface_hub itself throws partial files away). A file counts as complete (renamed to its
blob) only once it is fsynced and, for the weights (LFS files), its sha256 is the one the hub
lists; a corrupt download is removed. Failures are one line: offline, no network, a gated repo
that needs ``HF_TOKEN``, a repo that does not exist, a corrupt download, a full disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.atomic import fsync_folder
from core.atomic_io import atomic_write_text
from core.errors import ModelError, PassCancelled
from core.events import EventCallback, ModelLoading
from core.hashing import Cancelled, HashCancelled, file_sha256
from core.library.hub_cache import (
    cached_path,
    hub_cache_dir,
    pipeline_components,
    repo_cache_folder,
)

SUPPORT_SUFFIXES = (".json", ".txt", ".model")  # configs, tokenizers (vocab, merges, spiece)
FP16 = "fp16"
_WEIGHTS = re.compile(r"[^.]+(?:\.(?P<variant>[^.-]+))?(?:-\d+-of-\d+)?\.safetensors")
_INDEX = re.compile(r"[^.]+\.safetensors\.index(?:\.(?P<variant>[^.]+))?\.json")
_PICKLES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
CHUNK_BYTES = 1 << 20  # a cancel stops a download within one chunk
Expected = tuple[str, str | None]  # (repo file name, the hub's sha256 of it or None)
TOKEN_HINT = "set HF_TOKEN to a token of an account that accepted its terms (or run hf auth login)"


def _variant(name: str) -> tuple[bool, str | None]:
    """(is a safetensors weights or index file, its variant) for a file name without folder."""
    match = _WEIGHTS.fullmatch(name) or _INDEX.fullmatch(name)
    return (match is not None, match["variant"] if match else None)


def select_files(files: Iterable[str], components: Iterable[str], fp16: bool) -> list[str]:
    """The repo files to fetch: the index, then per component its support files and weights."""
    files = list(files)
    chosen = ["model_index.json"]
    for component in components:
        names = [f.split("/", 1)[1] for f in files if f.startswith(f"{component}/")]
        names = [n for n in names if "/" not in n]
        weights: dict[str | None, list[str]] = {}
        for name in names:
            is_weights, variant = _variant(name)
            if is_weights:
                weights.setdefault(variant, []).append(name)
            elif name.endswith(SUPPORT_SUFFIXES) and ".bin." not in name:
                chosen.append(f"{component}/{name}")
        preference = [FP16, None] if fp16 else [None, FP16]
        picked = next((weights[v] for v in preference if v in weights), [])
        if not picked and any(n.endswith(_PICKLES) or ".bin." in n for n in names):
            raise ModelError(
                f"the {component} weights of this repo are only pickle files (.bin/.ckpt), which "
                "can run code when loaded; use a repo with .safetensors weights"
            )
        chosen += [f"{component}/{name}" for name in picked]
    return chosen


def size_text(done: float, total: float) -> str:
    """Text like "1.2 of 3.4 GB" (MB below a gigabyte)."""
    unit, scale = ("GB", 1e9) if total >= 1e9 else ("MB", 1e6)
    return f"{done / scale:.1f} of {total / scale:.1f} {unit}"


class _ByteProgress:
    """Bytes fetched (and already there) → ModelLoading events with the fraction; raises
    PassCancelled once ``cancel`` is cancelled."""

    def __init__(
        self, repo_id: str, total: int, emit: EventCallback, cancel: Cancelled | None
    ) -> None:
        self.repo_id, self.total, self.emit, self.cancel = repo_id, total, emit, cancel
        self._lock = threading.Lock()
        self.done = 0
        self._shown = 0.0

    def add(self, n: int) -> None:
        _check(self.cancel)
        if self.total <= 0:
            return
        with self._lock:
            self.done += n
            done = min(self.done, self.total)
            fraction = done / self.total
            step = fraction - self._shown
            if step > 0 and (fraction >= 1.0 or step >= 0.001):
                self._shown = fraction
                message = f"Downloading {self.repo_id}: {size_text(done, self.total)}"
                self.emit(ModelLoading(self.repo_id, message, fraction))


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _check(cancel: Cancelled | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise PassCancelled()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _answered(exc: BaseException) -> bool:
    """Whether the hub answered (an HTTP error), as opposed to not being reached at all."""
    from huggingface_hub.errors import HfHubHTTPError

    return isinstance(exc, HfHubHTTPError) or getattr(exc, "response", None) is not None


def _hub_error(repo_id: str, exc: BaseException) -> ModelError:
    """The one-line ModelError for a failed hub call (gated, not found, no network…)."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, GatedRepoError) or status in (401, 403):
        return ModelError(
            f"{repo_id} is gated: accept its terms on huggingface.co and {TOKEN_HINT}"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return ModelError(
            f"{repo_id} was not found on the Hugging Face Hub (a private repo needs HF_TOKEN)"
        )
    if isinstance(exc, HfHubHTTPError):
        return ModelError(f"downloading {repo_id} failed: {_one_line(exc)}")
    return ModelError(
        f"cannot reach the Hugging Face Hub to download {repo_id} ({_one_line(exc)}); "
        "check the connection, or use a model that is already on disk"
    )


def _cached_snapshot(repo_id: str, reason: str) -> str:
    folder = cached_path(repo_id)
    if folder is None:
        raise ModelError(
            f"{repo_id} is not in the Hugging Face cache and cannot be downloaded ({reason})"
        )
    return str(folder)


def download_model(
    repo_id: str, emit: EventCallback, cancel: Cancelled | None = None, fp16: bool = False
) -> str:
    """The local snapshot folder of ``repo_id``: fetched with byte progress, or from the cache.

    ``fp16`` prefers the repo's fp16 weights. Raises :class:`PassCancelled` between chunks once
    ``cancel`` is cancelled (a later call resumes the download) and ModelError for failures.
    """
    from huggingface_hub import HfApi

    if _offline():
        return _cached_snapshot(repo_id, "offline: HF_HUB_OFFLINE is set")
    _check(cancel)
    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
    except Exception as exc:  # the errors differ between hub versions and transports
        if _answered(exc):
            raise _hub_error(repo_id, exc) from None
        return _cached_snapshot(repo_id, f"no network: {_one_line(exc)}")
    commit = str(info.sha)
    siblings = info.siblings or []
    sizes = {s.rfilename: int(getattr(s, "size", None) or 0) for s in siblings}
    sha256s = {s.rfilename: str(s.lfs.sha256) for s in siblings if s.lfs is not None}
    if "model_index.json" not in sizes:
        raise ModelError(f"{repo_id} is not a diffusers pipeline (it has no model_index.json)")
    progress = _ByteProgress(repo_id, 0, emit, cancel)
    index_file = _fetch_file(repo_id, commit, "model_index.json", progress, sha256s)
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{repo_id}: unreadable model_index.json ({_one_line(exc)})") from None
    files = select_files(sizes, pipeline_components(index), fp16)
    progress.total = sum(sizes.get(f, 0) for f in files)
    for name in files:
        _fetch_file(repo_id, commit, name, progress, sha256s)
    folder = repo_cache_folder(repo_id)
    try:  # offline runs find the snapshot through refs/main
        atomic_write_text(folder / "refs" / "main", commit)
    except OSError as exc:
        raise ModelError(f"cannot write to the Hugging Face cache: {_one_line(exc)}") from None
    return str(folder / "snapshots" / commit)


def _fetch_file(
    repo_id: str,
    commit: str,
    filename: str,
    progress: _ByteProgress,
    sha256s: dict[str, str],
) -> Path:
    """One repo file into the HF cache (continuing a partial download); its snapshot path.
    ``sha256s``: the hub's sha256 of each LFS file (by repo path), which a new blob must match."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import WeakFileLock

    folder = repo_cache_folder(repo_id)
    pointer = folder / "snapshots" / commit / filename
    try:
        if not pointer.exists():
            meta = get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=commit))
            if not meta.etag:
                raise ModelError(f"{repo_id}: the hub sent no ETag for {filename}")
            blob = folder / "blobs" / meta.etag
            lock = hub_cache_dir() / ".locks" / folder.name / f"{meta.etag}.lock"
            lock.parent.mkdir(parents=True, exist_ok=True)
            with WeakFileLock(str(lock)):
                if blob.exists():
                    progress.add(progress_size(blob))
                else:
                    expected = (filename, sha256s.get(filename))
                    _resume_into(blob, str(meta.location), meta.size, progress, expected)
            # The blob is complete: huggingface_hub only links it into the snapshot.
            return Path(hf_hub_download(repo_id, filename, revision=commit))
    except (ModelError, PassCancelled):
        raise
    except Exception as exc:
        raise _hub_error(repo_id, exc) from None
    progress.add(progress_size(pointer))
    return pointer


def progress_size(path: Path) -> int:
    """The size of ``path`` in bytes (0 when missing)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _resume_into(
    blob: Path, url: str, size: int | None, progress: _ByteProgress, expected: Expected
) -> None:
    """Fetch ``url`` into ``blob`` through ``blob.incomplete``, continuing what it holds. The
    bytes are fsynced and checked against the hub's sha256 before the rename makes them count."""
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

    partial = blob.with_name(blob.name + ".incomplete")
    blob.parent.mkdir(parents=True, exist_ok=True)
    have = progress_size(partial)
    if size is not None and have > size:
        have = 0  # not this file: start again
    if size is not None and 0 < have == size:  # complete, only not moved yet
        progress.add(have)
        with _cache_writes():
            _fsync_file(partial)
        _commit(partial, blob, expected, progress.cancel)
        return
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if have:
        headers["Range"] = f"bytes={have}-"
    progress.add(have)
    with http_stream_backoff(method="GET", url=url, headers=headers) as response:
        hf_raise_for_status(response)
        if have and response.status_code != 206:  # the server ignored Range: start again
            progress.add(-have)
            have = 0
        with _cache_writes(), open(partial, "ab" if have else "wb") as fh:
            for chunk in response.iter_bytes(chunk_size=CHUNK_BYTES):
                fh.write(chunk)
                have += len(chunk)
                progress.add(len(chunk))  # raises PassCancelled: the partial file stays
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename says it is complete
    if size is not None and have != size:
        raise ModelError(f"download of {blob.name[:12]}… ended at {have} of {size} bytes; retry")
    _commit(partial, blob, expected, progress.cancel)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(partial: Path, blob: Path, expected: Expected, cancel: Cancelled | None) -> None:
    """Move a complete, synced download into place, once its sha256 is the hub's (when the hub
    publishes one). A mismatch removes the download and raises a one-line ModelError."""
    name, sha256 = expected
    if sha256:
        try:
            with _cache_writes():
                actual = file_sha256(partial, cancel=cancel)
        except HashCancelled:
            raise PassCancelled() from None
        if actual != sha256.lower():
            partial.unlink(missing_ok=True)
            raise ModelError(
                f"the download of {name} is corrupt (sha256 {actual[:12]}…, the hub says "
                f"{sha256[:12]}…); it was removed: download again"
            )
    with _cache_writes():
        os.replace(partial, blob)
    fsync_folder(blob.parent)


@contextlib.contextmanager
def _cache_writes() -> Iterator[None]:
    """A failed write to the cache (a full disk) as one line, not as "cannot reach the hub"."""
    try:
        yield
    except (TimeoutError, ConnectionError):
        raise  # the network, not the disk: the hub's one-line error says so
    except OSError as exc:
        raise ModelError(f"cannot write to the Hugging Face cache: {_one_line(exc)}") from None
