"""Atomic text and image writes on top of :mod:`core.atomic`, the one-line error for a failed
write, and whether two paths are one file (so that an input is never written over).

Every file the app writes goes through :func:`core.atomic.atomic_writer` (directly or through these
helpers): the target is its previous content or its new one, never half, and a failure leaves no
temporary file behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.atomic import atomic_writer
from core.errors import UserError


def write_error(path: str | Path, exc: OSError) -> UserError:
    """A one-line :class:`UserError` naming ``path``: "cannot write PATH: No space left on
    device"."""
    reason = " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
    return UserError(f"cannot write {path}: {reason}")


def atomic_write_text(
    path: str | Path, text: str, encoding: str = "utf-8", mode: int | None = None
) -> Path:
    """Write ``text`` to ``path`` atomically; raises OSError (``path`` untouched) on failure.
    ``mode``: the file's permission bits (see :func:`core.atomic.atomic_writer`)."""
    with atomic_writer(path, mode) as fh:
        fh.write(text.encode(encoding))
    return Path(path)


def atomic_save_image(path: str | Path, image: Any, **pil_kwargs: Any) -> Path:
    """``image.save(path, **pil_kwargs)`` (a PIL image), atomically; pass ``format=``, since the
    temporary file's name says nothing. Raises OSError (``path`` untouched) on failure."""
    with atomic_writer(path) as fh:
        image.save(fh, **pil_kwargs)
    return Path(path)


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` (links followed), or None when there is none.
    Two paths with one identity are one file: a link, a hard link, or another spelling on a
    case-insensitive file system."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` are one existing file (see :func:`file_identity`)."""
    identity = file_identity(a)
    return identity is not None and identity == file_identity(b)
