"""The model library: folders scanned in place and single files added, remembered in
``library.json`` in the user data folder (``core.library.library_file``: atomic writes, one lock
for every change, versioned, what it cannot read kept). Nothing is copied, and forgetting a
folder or a file never deletes it.

A rescan reads again only the files that are new or changed (size or time); files that are gone
are dropped. A scan survives any one bad file (a broken header, a link loop, a file that cannot
be read or is not a regular file): each is reported in one line and the rest are registered.
"""

from __future__ import annotations

import hashlib
import logging
import stat
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.hashing import HashCancelled, cached_file_hash
from core.library.detect import detect_file
from core.library.library_file import LibraryData, LibraryFile
from core.library.scan import (
    Found,
    diffusers_family,
    find_models,
    folder_layout,
    folder_size,
    hub_repo_name,
)
from core.user_dirs import user_data_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LibraryItem:
    """A registered model file or diffusers folder."""

    id: str  # stable: from the absolute path
    name: str  # file stem or folder name
    kind: str  # one of KINDS
    family: str  # a core.models.families key, or "" when the file does not say
    path: Path
    size_bytes: int
    source: str  # "a1111" | "comfyui" | "folder" | "hub-cache" | "added"
    hash: str = ""  # short sha256 (10 hex) when computed


@dataclass(frozen=True)
class ScanProblem:
    """A file a scan did not register: a refused pickle or an unreadable file (one line)."""

    path: Path
    reason: str


def item_id(path: Path) -> str:
    """The stable id of whatever is at ``path``."""
    return hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]


class ModelLibrary:
    """Scanned folders and their model files, persisted as JSON."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else user_data_dir() / "library.json"
        self.warnings: list[str] = []
        self.problems: list[ScanProblem] = []  # from the last scan
        self._lock = threading.RLock()  # this process's threads; the file lock guards the rest
        self._file = LibraryFile(self.path, self._warn)
        self._folders: dict[str, str] = {}  # folder → source
        self._items: dict[str, dict[str, Any]] = {}  # path → item fields + stamp
        self._load()

    # -- reading ---------------------------------------------------------------------------------
    def items(self, kind: str | None = None) -> list[LibraryItem]:
        """Registered items (of ``kind``), sorted by kind, family and name."""
        with self._lock:
            rows = [_item(row) for row in self._items.values()]
        rows = [r for r in rows if kind is None or r.kind == kind]
        return sorted(rows, key=lambda r: (r.kind, r.family, r.name.lower(), str(r.path)))

    def folders(self) -> list[Path]:
        """The folders scanned in place (rescans look in them again)."""
        with self._lock:
            return sorted(Path(f) for f in self._folders)

    def find(self, reference: str) -> LibraryItem | None:
        """The item with this id, path or name (case-insensitive), or None."""
        wanted = reference.strip()
        items = self.items()
        for item in items:
            if wanted in (item.id, str(item.path)):
                return item
        return next((i for i in items if i.name.lower() == wanted.lower()), None)

    def find_lora(self, name: str) -> Path | None:
        """The LoRA file a ``<lora:name:weight>`` tag names (its stem, case-insensitive)."""
        wanted = name.strip().lower()
        for item in self.items("lora"):
            if item.name.lower() == wanted or item.path.stem.lower() == wanted:
                return item.path
        return None

    # -- changing --------------------------------------------------------------------------------
    def scan(
        self,
        folder: Path,
        on_item: Callable[[LibraryItem], None] | None = None,
        cancel: Any = None,
        hashes: bool = True,
        on_problem: Callable[[ScanProblem], None] | None = None,
    ) -> list[LibraryItem]:
        """Register every model under ``folder`` in place and remember the folder.

        Returns the items found (those already known and unchanged are not read again).
        Refused pickles and unreadable files go to :attr:`problems` (and ``on_problem``). A set
        ``cancel.cancelled`` stops between files (or within a hash): what was found is kept.
        ``hashes``: compute each file's short sha256 (cached by path, size and time).
        """
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise ModelError(f"{folder} is not a folder")
        source, roots = folder_layout(folder)
        with self._lock:
            data = self._file.read()
            self._use(data)
            self._file.check_writable(data)  # before reading any model file, not after
            known = {p: row for p, row in self._items.items() if _inside(Path(p), folder)}
        found: list[LibraryItem] = []
        rows: dict[str, dict[str, Any]] = {}
        self.problems = []
        cancelled = False
        for candidate in find_models(roots):
            if cancel is not None and cancel.cancelled:
                cancelled = True
                break
            try:
                row = self._row(candidate, source, known.get(str(candidate.path)), hashes, cancel)
            except HashCancelled:
                cancelled = True
                break
            except Exception as exc:  # any one bad file: reported, the scan goes on
                problem = ScanProblem(candidate.path, _reason(candidate.path, exc))
                self.problems.append(problem)
                if on_problem is not None:
                    on_problem(problem)
                continue
            rows[str(candidate.path)] = row
            item = _item(row)
            found.append(item)
            if on_item is not None:
                on_item(item)
        with self._lock, self._file.update() as data:
            if not cancelled:  # files that are gone are dropped
                for path in [p for p in data.items if _inside(Path(p), folder)]:
                    del data.items[path]
            data.items.update(rows)
            data.folders[str(folder)] = source
            self._use(data)
        return found

    def add_file(self, path: Path) -> LibraryItem:
        """Register one model file (or diffusers folder) in place; raises ModelError."""
        path = Path(path).expanduser().resolve()
        what = "diffusers" if path.is_dir() else "file"
        if path.suffix.lower() in {".ckpt", ".pt", ".pth", ".bin", ".pkl"}:
            what = "pickle"
        self._file.check_writable()
        row = self._row(Found(path, "", what), "added", None, True, None)
        with self._lock, self._file.update() as data:
            data.items[str(path)] = row
            self._use(data)
        return _item(row)

    def remove(self, item_id_or_folder: str) -> None:
        """Forget an item (by id, path or name) or a scanned folder and its items. Files stay
        where they are. Raises ModelError when nothing matches."""
        with self._lock, self._file.update() as data:
            self._use(data)
            wanted = item_id_or_folder.strip()
            as_folder = str(Path(wanted).expanduser().resolve()) if wanted else ""
            if as_folder in data.folders:
                del data.folders[as_folder]
                for path in [p for p in data.items if _inside(Path(p), Path(as_folder))]:
                    del data.items[path]
            else:
                item = self.find(wanted)
                if item is None:
                    raise ModelError(f"nothing in the model library is called {wanted!r}")
                del data.items[str(item.path)]
            self._use(data)

    # -- internals -------------------------------------------------------------------------------
    def _row(
        self,
        candidate: Found,
        source: str,
        known: dict[str, Any] | None,
        hashes: bool,
        cancel: Any,
    ) -> dict[str, Any]:
        path = candidate.path
        stamp = _stamp(path)
        if known is not None and known.get("stamp") == stamp and (known.get("hash") or not hashes):
            return known
        if candidate.what == "pickle":
            raise ModelError(
                f"{path.name}: refused, a Python pickle ({path.suffix}) can run code when "
                "loaded; use its .safetensors version"
            )
        if candidate.what == "diffusers":
            repo = hub_repo_name(path)
            kind, family = "diffusers", diffusers_family(path)
            name, size, digest = (repo or path.name), folder_size(path), ""
            source = "hub-cache" if repo else source
        else:
            info = detect_file(path)
            kind = info.kind if info.kind != "unknown" else candidate.hint
            if not kind:
                raise ModelError(f"{path.name}: not a model file this app knows")
            family, name, size = info.family, path.stem, path.stat().st_size
            digest = cached_file_hash(path, cancel=cancel)[:10] if hashes else ""
        return {
            "id": item_id(path),
            "name": name,
            "kind": kind,
            "family": family,
            "path": str(path),
            "size_bytes": size,
            "source": source,
            "hash": digest,
            "stamp": stamp,
        }

    def _load(self) -> None:
        self._use(self._file.read())

    def _use(self, data: LibraryData) -> None:
        self._folders, self._items = data.folders, data.items

    def _warn(self, message: str) -> None:
        if message not in self.warnings:  # the file is read again for every change
            self.warnings.append(message)
            log.warning(message)


def _stamp(path: Path) -> list[float]:
    info = path.stat()  # links followed: a loop or a dangling link raises OSError
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise ModelError(f"{path.name} is not a regular file (a pipe or a device?)")
    return [info.st_size, info.st_mtime]


def _reason(path: Path, exc: Exception) -> str:
    """One line saying why ``path`` was not registered."""
    if isinstance(exc, ModelError):
        return str(exc).splitlines()[0] if str(exc) else f"{path.name}: unreadable"
    if isinstance(exc, OSError):
        return f"{path.name}: cannot read ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, RecursionError):
        return f"{path.name}: its header nests too deeply to be a model file"
    log.debug("scan: %s failed", path, exc_info=True)
    return f"{path.name}: unreadable ({type(exc).__name__}: {str(exc)[:80]})".splitlines()[0]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _item(row: dict[str, Any]) -> LibraryItem:
    return LibraryItem(
        id=str(row["id"]),
        name=str(row["name"]),
        kind=str(row["kind"]),
        family=str(row["family"]),
        path=Path(row["path"]),
        size_bytes=int(row["size_bytes"]),
        source=str(row["source"]),
        hash=str(row.get("hash", "")),
    )


def item_fields(item: LibraryItem) -> dict[str, Any]:
    """A JSON-able dict of an item (for ``models list --json``)."""
    fields = asdict(item)
    fields["path"] = str(item.path)
    return fields
