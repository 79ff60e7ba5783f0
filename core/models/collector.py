"""Python's cyclic garbage collector around model loads: no long pauses while a model loads.

Loading the first model imports torch, diffusers and transformers: about a million new objects.
Left alone, the collector runs full collections over that growing heap while the modules import
(0.06–0.33 s each, six of them on a 2-core laptop), and each holds the GIL, so the window's GUI
thread stalls for as long. ``loading_quietly`` pauses the collector for the load and then
freezes what is alive (``gc.freeze``): later collections never scan the imported modules again.

A loaded pipeline is freed by reference counting alone (tested), so a frozen model does not leak;
still, ``forget_frozen`` puts everything back under the collector and collects once when a model
is unloaded, so any cycle it held goes with it.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_paused = 0  # nested loads (under _lock)
_enabled_before = True


@contextlib.contextmanager
def loading_quietly() -> Iterator[None]:
    """Run a model load (imports included) with the collector paused; freeze the result."""
    global _paused, _enabled_before
    with _lock:
        if _paused == 0:
            _enabled_before = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0:
                gc.freeze()
                if _enabled_before:
                    gc.enable()


def forget_frozen() -> None:
    """Give frozen objects back to the collector and collect (a model was just unloaded)."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
