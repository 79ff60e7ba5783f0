"""Fault injection for file writes: a full disk at sync time, or a write that fails half way."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DISK_FULL = "No space left on device"


def disk_full(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, DISK_FULL)


@contextlib.contextmanager
def fsync_fails() -> Iterator[None]:
    """Inside the block every ``os.fsync`` fails as on a full disk (the data never reaches it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", disk_full)
        yield


class _HalfWriter:
    """A file whose first ``write`` stores half of its data, then fails (disk full)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def write(self, data: bytes) -> int:
        self._real.write(bytes(data)[: max(1, len(data) // 2)])
        self._real.flush()
        disk_full()
        return 0

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextlib.contextmanager
def writes_fail_half_way() -> Iterator[None]:
    """Inside the block, files opened for writing with ``os.fdopen`` (what ``core.atomic`` writes
    through) or binary ``open`` store half of their first write, then fail as on a full disk."""
    real_fdopen, real_open = os.fdopen, open

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, mode, *args, **kwargs)
        return _HalfWriter(handle) if "w" in mode else handle

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        return _HalfWriter(handle) if "w" in mode and "b" in mode else handle

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fdopen", fdopen)
        patch.setattr("builtins.open", open_)
        yield


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → bytes), temporary files included."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def temp_files(folder: Path) -> list[str]:
    """Names of temporary files left anywhere under ``folder``."""
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]
