"""The cancel flag a front end hands to a pass; the engine checks it wherever the pass waits."""

from __future__ import annotations

import threading


class CancelToken:
    """Thread-safe cancel flag, set from any thread; once cancelled it stays cancelled.

    Give each pass (or each run of passes that should stop together) a token of its own.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
