"""Autosaves: each running app writes its session to its own project file; files left by
processes that died (crash, kill -9, power loss) can be recovered by the next start.

A store names its files ``autosave-<pid>-<random>``: ``.i2i`` (the project, written atomically)
and ``.lock``, which the process holds locked (``flock``; ``msvcrt.locking`` on Windows) from its
first save until :meth:`AutosaveStore.mark_clean_exit`. The operating system drops the lock when
the process ends however it ends, so an autosave whose lock can be taken belongs to a dead process.

Autosaves are private to the user: the folder is made 0700 and the files 0600 (POSIX). An
autosave that cannot be read is never deleted: :meth:`AutosaveStore.load` renames it aside
(``autosave-<pid>-<random>.unreadable-<date>-<time>.i2i``) and no longer offers it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import uuid
from pathlib import Path

from core.errors import ProjectError
from core.project.files import PROJECT_SUFFIX, UnreadableProject, load_project, save_project
from core.project.session import Session
from core.user_dirs import user_data_dir

PREFIX = "autosave-"
LOCK_SUFFIX = ".lock"
UNREADABLE = ".unreadable-"
"""Marks an autosave that could not be read, renamed aside: kept, never offered again."""
_STEM = re.compile(r"\.?(autosave-\d+-[0-9a-f]{8})\.(?!unreadable-)")
_PRIVATE_FILE = 0o600
_PRIVATE_FOLDER = 0o700

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return False  # held by a running process (other errors: no locks on this disk)
        return True


def _make_private(path: Path, mode: int) -> None:
    """Only the user may read ``path`` (POSIX; Windows keeps the user profile's own rights)."""
    if os.name == "posix":
        os.chmod(path, mode)


def _stem_of(path: Path) -> str | None:
    """The ``autosave-<pid>-<hex>`` stem of an autosave, its lock or one of its temporary files."""
    match = _STEM.match(path.name)
    return match.group(1) if match else None


class AutosaveStore:
    """This process's autosave in ``folder`` (default: ``user_data_dir()/"autosave"``), and the
    ones other processes left behind."""

    def __init__(self, folder: str | Path | None = None, *, compress_level: int = 1) -> None:
        self.folder = Path(folder) if folder is not None else user_data_dir() / "autosave"
        self.compress_level = compress_level
        self._stem = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_fd: int | None = None

    @property
    def path(self) -> Path:
        """This process's autosave file (it exists after the first :meth:`save`)."""
        return self.folder / f"{self._stem}{PROJECT_SUFFIX}"

    def _lock_path(self, stem: str) -> Path:
        return self.folder / f"{stem}{LOCK_SUFFIX}"

    def _hold_lock(self) -> None:
        if self._lock_fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _make_private(self.folder, _PRIVATE_FOLDER)
        lock = self._lock_path(self._stem)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, _PRIVATE_FILE)
            try:
                if not _try_lock(fd):
                    raise ProjectError(f"cannot autosave: {lock} is locked")
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
            except BaseException:
                os.close(fd)
                raise
            if same:  # not deleted by another start between open and lock
                break
            os.close(fd)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def save(self, session: Session) -> Path:
        """Write ``session`` to this process's autosave, atomically; returns its path.

        Raises :class:`ProjectError` like :func:`save_project`.
        """
        try:
            self._hold_lock()
        except OSError as exc:
            raise ProjectError(f"cannot autosave in {self.folder}: {exc.strerror or exc}") from None
        return save_project(self.path, session, compress_level=self.compress_level, private=True)

    def mark_clean_exit(self) -> None:
        """The app is closing normally: remove this process's autosave and release its lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._remove(self._stem)

    def _owner_running(self, stem: str) -> bool:
        if stem == self._stem:
            return True
        try:
            fd = os.open(self._lock_path(stem), os.O_RDWR)
        except OSError:
            return False  # no lock file: its process is gone
        try:
            return not _try_lock(fd)
        except OSError:
            return True  # cannot tell: never offer an autosave that may be in use
        finally:
            os.close(fd)  # also drops the lock taken just now

    def _remove(self, stem: str) -> None:
        leftovers = [p for p in self.folder.glob(f".{stem}.*") if _stem_of(p) == stem]
        for path in [self.folder / f"{stem}{PROJECT_SUFFIX}", *leftovers, self._lock_path(stem)]:
            with contextlib.suppress(OSError):  # e.g. open elsewhere on Windows: next time
                path.unlink(missing_ok=True)

    def recoverable(self) -> list[Path]:
        """Autosaves of processes that are no longer running, newest first.

        Also deletes what dead processes left without an autosave (locks, temporary files of a
        save that never finished). Never lists this process's or a running process's autosave.
        """
        if not self.folder.is_dir():
            return []
        found: dict[str, Path] = {}
        stems = {_stem_of(p) for p in self.folder.iterdir()} - {None, self._stem}
        for stem in sorted(s for s in stems if s is not None):
            if self._owner_running(stem):
                continue
            autosave = self.folder / f"{stem}{PROJECT_SUFFIX}"
            if autosave.is_file():
                found[stem] = autosave
            else:
                self._remove(stem)
        return sorted(found.values(), key=lambda p: p.stat().st_mtime, reverse=True)

    def _leftover_stem(self, path: Path) -> str:
        """The stem of a recoverable autosave; ProjectError for any other file."""
        stem = _stem_of(path)
        if stem is None or path.resolve().parent != self.folder.resolve():
            raise ProjectError(f"{path} is not an autosave in {self.folder}")
        if self._owner_running(stem):
            raise ProjectError(f"{path} belongs to a running Img2Img Studio")
        return stem

    def load(self, path: str | Path) -> Session:
        """The session of a recoverable autosave.

        Raises :class:`ProjectError` (one line) when it cannot be read; the file is kept. One
        whose content is damaged is renamed aside first (:meth:`set_aside`) and the message says
        where it went; one that cannot be read for now (permissions, a newer version's format,
        the limits) stays in place and is offered again next time.
        """
        path = Path(path)
        self._leftover_stem(path)
        try:
            return load_project(path)
        except UnreadableProject as exc:
            try:
                aside = self.set_aside(path)
            except OSError as rename_error:
                reason = rename_error.strerror or rename_error
                raise ProjectError(f"{exc}; it was left in place ({reason})") from None
            raise ProjectError(f"{exc}; it was kept as {aside}") from None

    def set_aside(self, path: str | Path) -> Path:
        """Rename an autosave that cannot be read to ``<stem>.unreadable-<date>-<time>.i2i`` in
        the same folder, where it is kept and no longer offered; returns the new path.

        Raises OSError when it cannot be renamed (it is then left as it is).
        """
        path = Path(path)
        stem = self._leftover_stem(path)
        when = time.strftime("%Y%m%d-%H%M%S")
        for number in range(1000):
            suffix = f"-{number}" if number else ""
            target = self.folder / f"{stem}{UNREADABLE}{when}{suffix}{PROJECT_SUFFIX}"
            if not target.exists():
                path.rename(target)
                return target
        raise FileExistsError(f"{path} was set aside too often this second")

    def discard(self, path: str | Path) -> None:
        """Delete a recoverable autosave (after it was recovered, or the user chose to delete it)
        and its leftovers.

        Raises :class:`ProjectError` for a file that is not an autosave of this folder or whose
        process is still running.
        """
        self._remove(self._leftover_stem(Path(path)))
