"""The local worker's token file: ``serve`` writes the token it asks for to a file only this user
can read (``<config dir>/worker-tokens/<port>.token``, mode 0600, written atomically), so the
window and ``generate --worker`` on this machine find it without the token on a command line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from core.atomic import atomic_writer
from core.remote.loopback import is_loopback
from core.user_dirs import user_config_dir

TOKEN_ENV = "IMG2IMG_STUDIO_WORKER_TOKEN"  # the token, for serve and for clients
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def token_path(port: int) -> Path:
    """Where the worker listening on ``port`` keeps its token."""
    return user_config_dir() / "worker-tokens" / f"{int(port)}.token"


def write_token_file(port: int, token: str) -> Path:
    """Write ``token`` for the worker on ``port``, readable by this user only (OSError on
    failure)."""
    path = token_path(port)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a file system without modes (FAT, some mounts)
        os.chmod(path.parent, PRIVATE_FOLDER)
    with atomic_writer(path) as fh:
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), PRIVATE_FILE)  # private before the token is in it
        fh.write(f"{token}\n".encode())
    return path


def remove_token_file(port: int, token: str) -> None:
    """Remove the token file of ``port`` if it still holds ``token`` (a worker stopping)."""
    path = token_path(port)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8").strip() == token:
            path.unlink()


def local_token(url: str) -> str | None:
    """The token of the worker at ``url`` when it runs on this machine and wrote its token file;
    None otherwise (another machine, no file, a file others could read)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if not host or not is_loopback(host):
        return None
    path = token_path(port)
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            return None  # readable by others: not one this app wrote
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
