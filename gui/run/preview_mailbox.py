"""Step previews from the worker thread to the GUI: converted there, coalesced, throttled.

The worker ``offer``s each step's preview; the conversion to a QImage happens on the worker
thread, and so does the scaling: to ``display_size`` (the picture's size on screen, set when a
job starts) so that the GUI thread draws it without scaling, else down to ``max_side``; an inpaint
pass's previews are blended over the picture through the mask there too (``blend``).
The mailbox keeps only the newest preview: while one waits for the GUI thread, a newer one
replaces it, so a busy GUI thread never works through a backlog of stale pictures. Offers closer
together than one display refresh are skipped (the last step's always goes through).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from gui.qt_images import array_to_qimage
from gui.run.preview_blend import PreviewBlend

DEFAULT_REFRESH_HZ = 60.0
DEFAULT_MAX_SIDE = 1024


class PreviewMailbox(QObject):
    """Lives on the GUI thread; ``ready(step, total, elapsed, qimage)`` delivers the newest
    preview there (``qimage`` None when the step had no picture)."""

    ready = Signal(int, int, float, object)
    _posted = Signal()

    def __init__(self, refresh_hz: float = DEFAULT_REFRESH_HZ) -> None:
        super().__init__()
        self.min_interval = 1.0 / max(1.0, refresh_hz)
        self.max_side = DEFAULT_MAX_SIDE
        # The size the canvas shows the picture at, in device pixels (None: unknown). Set from
        # the GUI thread between jobs, read on the worker's: one tuple assignment.
        self.display_size: tuple[int, int] | None = None
        # An inpaint pass's previews are blended over its picture through the mask (set with
        # display_size; None: shown as they come).
        self.blend: PreviewBlend | None = None
        self.converted_on: set[int] = set()  # thread ids that converted previews (tests)
        self._lock = threading.Lock()
        self._latest: tuple[int, int, float, QImage | None] | None = None
        self._pending = False
        self._last_offer = 0.0
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def offer(self, step: int, total: int, elapsed: float, image: np.ndarray | None) -> bool:
        """From the worker thread: convert and post a step's preview; False when skipped
        (too soon after the last one; never the last step's)."""
        now = time.perf_counter()
        if step < total and now - self._last_offer < self.min_interval:
            return False
        self._last_offer = now
        qimage = None if image is None else self._to_qimage(image)
        with self._lock:
            self._latest = (step, total, elapsed, qimage)
            if self._pending:  # the GUI has not taken the previous one: this one replaces it
                return True
            self._pending = True
        self._posted.emit()
        return True

    def reset(self) -> None:
        """Forget any undelivered preview and start the throttle afresh (a new job)."""
        with self._lock:
            self._latest = None
            self._last_offer = 0.0

    def _to_qimage(self, image: np.ndarray) -> QImage:
        self.converted_on.add(threading.get_ident())
        height, width = image.shape[:2]
        shown = self.display_size
        if shown is None and self.blend is not None:
            shown = self.blend.fallback_size(self.max_side)  # a crop's preview: the picture's
        if shown is not None and max(shown) <= self.max_side:
            size = shown  # stretched over the picture anyway: the aspect ratio is the picture's
        elif max(width, height) > self.max_side:
            scale = self.max_side / max(width, height)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
        else:
            size = (width, height)
        if self.blend is not None:
            image = self.blend.apply(image, size)  # at ``size``, the unmasked area the picture's
        elif size != (width, height):
            # Pillow lets go of the interpreter lock while it resamples (QImage.scaled holds it,
            # which would stall the GUI thread for as long): the GUI keeps running meanwhile.
            resized = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)
            image = np.asarray(resized)
        return array_to_qimage(image)

    @Slot()
    def _deliver(self) -> None:
        with self._lock:
            latest, self._latest, self._pending = self._latest, None, False
        if latest is not None:
            self.ready.emit(*latest)


def refresh_rate() -> float:
    """The primary screen's refresh rate (Hz), 60 when unknown (call on the GUI thread)."""
    from PySide6.QtGui import QGuiApplication

    screen = QGuiApplication.primaryScreen() if QGuiApplication.instance() else None
    rate: Any = screen.refreshRate() if screen is not None else 0.0
    return float(rate) if rate and rate > 1 else DEFAULT_REFRESH_HZ
