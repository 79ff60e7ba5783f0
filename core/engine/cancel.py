"""The cancel flag a front end hands to a pass; the engine checks it after every step."""

from __future__ import annotations

import threading


class CancelToken:
    """Thread-safe cancel flag; the engine checks it after every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
