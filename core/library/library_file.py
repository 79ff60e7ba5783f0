"""``library.json``: the model library's file, read and changed safely by several processes.

The window, the CLI and a worker may change the library at the same time. Every change is a
read-modify-write under one lock (``library.json.lock`` beside it, a ``filelock`` lock that the
system releases if a process dies), so no writer loses another's update; the write itself is
atomic, so readers need no lock.

What this version cannot read is kept, never thrown away:

- rows of kinds it does not know (or that it cannot parse) are skipped when listing and written
  back unchanged; top-level fields it does not know are written back too;
- a file written by a newer version (a higher ``version``) is read as far as this version
  understands it, and never changed: a change raises one line asking for the newer app;
- a file that is not a library at all (not JSON, no lists) is set aside as
  ``library.json.corrupt`` with a warning, and the library starts empty; one that cannot be read
  (permissions) is left alone and not written over.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from core.atomic_io import atomic_write_text
from core.errors import ModelError

SCHEMA_VERSION = 1
KINDS = (
    "checkpoint", "lora", "controlnet", "vae", "unet", "text_encoder", "ip_adapter", "diffusers",
)  # fmt: skip
ROW_FIELDS = {"id": str, "name": str, "kind": str, "family": str, "path": str, "source": str}
LOCK_TIMEOUT_S = 30.0  # a change waits this long for another process's change to finish


@dataclass
class LibraryData:
    """The file's content: the rows this version reads, and everything else to write back."""

    folders: dict[str, str] = field(default_factory=dict)  # folder → source
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → row
    kept_rows: list[Any] = field(default_factory=list)  # unknown kinds, unreadable rows
    kept_folders: list[Any] = field(default_factory=list)  # unreadable folder entries
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level fields
    version: int = SCHEMA_VERSION
    unreadable: str = ""  # why the file could not be read (then it is not written over either)


class LibraryFile:
    """One ``library.json`` and its lock. ``warn`` receives one line per problem read."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._warn = warn

    def read(self) -> LibraryData:
        """What the file holds now (empty when it does not exist or is not a library)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return LibraryData()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self._warn(f"cannot read {self.path} ({reason}); the library is empty")
            return LibraryData(unreadable=reason)
        try:
            return self._parse(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # not JSON, not UTF-8…
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._warn(f"{self.path} was unreadable ({reason}); starting with an empty library")
            return LibraryData()

    @contextlib.contextmanager
    def update(self) -> Iterator[LibraryData]:
        """Read the file under the lock, let the caller change the data, write it back.

        Raises ModelError (one line) when the file belongs to a newer version, when another
        process holds the lock too long, or when the file cannot be written; the file is then
        unchanged."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except Timeout:
            raise ModelError(
                f"{self.path} is being changed by another Img2Img Studio process; try again"
            ) from None
        try:
            data = self.read()
            self.check_writable(data)
            yield data
            self._write(data)
        finally:
            lock.release()

    def check_writable(self, data: LibraryData | None = None) -> None:
        """Raise ModelError when the file was written by a newer version or could not be read
        (it is never changed then)."""
        data = data or self.read()
        if data.unreadable:
            raise ModelError(f"cannot read {self.path} ({data.unreadable}); it is left as it is")
        version = data.version
        if version > SCHEMA_VERSION:
            raise ModelError(
                f"{self.path} was written by a newer Img2Img Studio (library version {version}, "
                f"this one knows {SCHEMA_VERSION}); it is read but not changed: update the app"
            )

    # -- internals -------------------------------------------------------------------------------
    def _parse(self, raw: Any) -> LibraryData:
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        version = raw.get("version", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"version {version!r} is not a number")
        newer = version > SCHEMA_VERSION
        data = LibraryData(version=version)
        data.extra = {k: v for k, v in raw.items() if k not in ("version", "folders", "items")}
        folders, rows = raw.get("folders", []), raw.get("items", [])
        if not isinstance(folders, list) or not isinstance(rows, list):
            if newer:  # its layout changed: nothing to read, and it stays as it is
                self._warn(f"{self.path} is from a newer version; its models are not listed")
                return data
            raise ValueError("folders and items must be lists")
        for folder in folders:
            if isinstance(folder, dict) and isinstance(folder.get("path"), str):
                data.folders[folder["path"]] = str(folder.get("source", "folder"))
            else:
                data.kept_folders.append(folder)
        for row in rows:
            if _readable(row):
                data.items[row["path"]] = row
            else:
                data.kept_rows.append(row)
        if data.kept_rows:
            self._warn(
                f"{self.path}: {len(data.kept_rows)} entries of kinds this version does not "
                "know are kept but not listed"
            )
        return data

    def _write(self, data: LibraryData) -> None:
        content = {
            **data.extra,
            "version": SCHEMA_VERSION,  # never a newer file's: those are not written
            "folders": [{"path": f, "source": s} for f, s in sorted(data.folders.items())]
            + data.kept_folders,
            "items": [data.items[p] for p in sorted(data.items)] + data.kept_rows,
        }
        try:
            atomic_write_text(self.path, json.dumps(content, indent=1))
        except OSError as exc:
            raise ModelError(f"cannot write {self.path}: {exc.strerror or exc}") from None


def _readable(row: Any) -> bool:
    """A row this version lists: a known kind with every field of the right type."""
    if not isinstance(row, dict) or row.get("kind") not in KINDS:
        return False
    if not all(isinstance(row.get(name), kind) for name, kind in ROW_FIELDS.items()):
        return False
    size = row.get("size_bytes")
    return isinstance(size, int) and not isinstance(size, bool)
