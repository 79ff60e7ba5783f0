"""Autosaves: each running app writes its session to its own project file; files left by
processes that died (crash, kill -9, power loss) can be recovered by the next start.

A store names its files ``autosave-<pid>-<random>``: ``.i2i`` (the project, written atomically)
and ``.lock``, which the process holds locked (``flock``; ``msvcrt.locking`` on Windows) from its
first save until :meth:`AutosaveStore.mark_clean_exit`. The operating system drops the lock when
the process ends however it ends, so an autosave whose lock can be taken belongs to a dead process.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import uuid
from pathlib import Path

from core.errors import ProjectError
from core.project.files import PROJECT_SUFFIX, save_project
from core.project.session import Session
from core.user_dirs import user_data_dir

PREFIX = "autosave-"
LOCK_SUFFIX = ".lock"
_STEM = re.compile(r"\.?(autosave-\d+-[0-9a-f]{8})\.")

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
        lock = self._lock_path(self._stem)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
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
        return save_project(self.path, session, compress_level=self.compress_level)

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

    def discard(self, path: str | Path) -> None:
        """Delete a recoverable autosave (after it was recovered or declined) and its leftovers.

        Raises :class:`ProjectError` for a file that is not an autosave of this folder or whose
        process is still running.
        """
        path = Path(path)
        stem = _stem_of(path)
        if stem is None or path.resolve().parent != self.folder.resolve():
            raise ProjectError(f"{path} is not an autosave in {self.folder}")
        if self._owner_running(stem):
            raise ProjectError(f"{path} belongs to a running Img2Img Studio")
        self._remove(stem)
