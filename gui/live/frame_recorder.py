"""Record: every live frame written as a numbered PNG (``live_00001.png`` …) in a folder.

Frames are written off the GUI thread, one after another, each atomically with its pass record
(core.metadata.write_png: a temporary file, fsync, rename). Numbering continues after the
frames already in the folder, so recording again never overwrites earlier ones.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

FRAME_PREFIX = "live_"
FRAME_NAME = re.compile(rf"^{FRAME_PREFIX}(\d+)\.png$")


def frame_path(folder: Path, number: int) -> Path:
    return folder / f"{FRAME_PREFIX}{number:05d}.png"


def next_frame_number(folder: Path) -> int:
    """One more than the highest frame number already in ``folder`` (1 for none)."""
    numbers = [
        int(match.group(1))
        for path in folder.glob(f"{FRAME_PREFIX}*.png")
        if (match := FRAME_NAME.match(path.name))
    ]
    return max(numbers, default=0) + 1


class FrameRecorder:
    """Writes the frames given to ``add`` into ``folder`` in order; ``close`` waits for them."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._next = next_frame_number(self.folder)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-record")
        self._pending: list[Future[Path]] = []
        self.frames = 0  # frames given to ``add``
        self.written = 0  # frames on disk (counted on the writer thread, one at a time)
        self.errors: list[str] = []  # one line per frame that could not be written

    def add(self, image: Image.Image, record: dict[str, Any]) -> Path:
        """Queue one frame; returns the path it will have."""
        path = frame_path(self.folder, self._next)
        self._next += 1
        self.frames += 1
        self._pending = [f for f in self._pending if not f.done()]
        future = self._writer.submit(_write, path, image.copy(), dict(record))
        future.add_done_callback(self._on_written)
        self._pending.append(future)
        return path

    def flush(self) -> None:
        """Wait until every queued frame is written (or has failed: see ``errors``)."""
        for future in self._pending:
            future.exception()
        self._pending = []

    def close(self) -> None:
        self.flush()
        self._writer.shutdown(wait=True)

    def _on_written(self, future: Future[Path]) -> None:
        exc = future.exception()
        if exc is None:
            self.written += 1
        else:  # a full disk or a removed folder: say so, keep recording
            self.errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _write(path: Path, image: Image.Image, record: dict[str, Any]) -> Path:
    from core.metadata import write_png  # PNG chunks and the atomic write

    return write_png(path, image, record)
