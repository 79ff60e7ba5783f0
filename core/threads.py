"""Thread helpers shared by the engine and the window."""

from __future__ import annotations

import os
import threading

BACKGROUND_NICENESS = 10


def run_in_background() -> bool:
    """Lower the calling thread's scheduling priority (Linux: its own nice value), so that on a
    busy machine the GUI thread and the display server get a core first when they wake.

    For threads that only do background work (the pass worker, autosaves, hashing): Linux
    cannot raise it again without privileges. False where not supported (nothing done).
    """
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None or not hasattr(threading, "get_native_id"):
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, BACKGROUND_NICENESS))
    except OSError:
        return False
    return True
