"""Atomic file writes: a file is either its previous complete content or its new one, never half.

The data goes to a temporary file in the same folder (``.NAME.<random>.tmp``), is flushed and
fsynced, then moved over ``path`` with :func:`os.replace`. If anything fails (or the process dies)
``path`` is untouched; a failure removes the temporary file, a killed process may leave one. A
replaced file keeps its permission bits (a private file stays private); a new one gets the
umask's.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TMP_SUFFIX = ".tmp"


def temp_name(path: Path) -> Path:
    """A fresh temporary name next to ``path``: ``.NAME.<12 hex>.tmp``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}")


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; a no-op where folders cannot be synced)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename is still atomic
    finally:
        os.close(fd)


def _keep_mode(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the permission bits of the file it replaces (a new file keeps the umask's)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return  # nothing there (or a dangling link): a new file
    os.chmod(tmp, mode)


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file; on a clean exit it replaces ``path`` atomically and durably.

    Missing parent folders are created. The file keeps the permission bits of the one it
    replaces (a new one gets the umask's), unless ``mode`` is given (e.g. ``0o600`` for a
    private file: the temporary file is created with it, so the data is never readable by
    others, even for a moment). An exception inside the block (or while syncing) removes the
    temporary file, leaves ``path`` as it was and propagates (OSError for I/O failures).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None:
            _keep_mode(tmp, path)
        else:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`, also for ``mode``);
    returns the path."""
    with atomic_writer(path, mode) as fh:
        fh.write(data)
    return Path(path)
