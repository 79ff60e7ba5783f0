"""Warm-up: the engine's imports and a model load done before the first pass asks for them.

``warm_up(models, spec)`` imports torch and diffusers (torch's library loaded without holding the
interpreter lock first: ``torch_preload``) and, given a spec, loads it into ``models`` — the
``ModelManager`` the engine's passes use — so the first Generate finds it loaded. A pass that
starts meanwhile waits for the load on the manager's lock and then uses it: the model loads once.

``start_warm_up`` runs the same on a background thread (at background priority, like the pass
worker) and returns a handle to cancel or wait on. A warm-up never raises: it returns (and
logs) one line saying what it did or why not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from core.errors import PassCancelled, UserError
from core.events import EventCallback
from core.hashing import Cancelled
from core.model_spec import ModelSpec
from core.models.loading import ModelManager
from core.models.torch_preload import preload_torch_library
from core.threads import run_in_background

log = logging.getLogger(__name__)
CANCELLED = "warm-up cancelled"


ManagerSource = ModelManager | Callable[[], ModelManager]


def warm_up(
    models: ManagerSource,
    spec: ModelSpec | None = None,
    cancel: Cancelled | None = None,
    on_event: EventCallback | None = None,
) -> str:
    """Import the engine's libraries and load ``spec`` (None: imports only) into ``models``
    (or into what ``models()`` returns, called here: e.g. ``lambda: shared_engine().models``, so
    that creating the engine is warmed up too).

    Returns one line: what was warmed up, ``CANCELLED``, or "warm-up failed: <why>". Never
    raises; safe on any thread. ``cancel`` stops it between load phases (no model is kept)."""
    try:
        outcome = _warm_up(models, spec, cancel, on_event)
    except PassCancelled:
        outcome = CANCELLED
    except UserError as exc:  # a missing file, an unusable option: the pass will say it again
        outcome = f"warm-up failed: {exc}"
    except Exception as exc:  # a warm-up is an optimisation: whatever breaks, the app goes on
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        outcome = f"warm-up failed: {type(exc).__name__}: {first_line}"
        log.debug("warm-up failed", exc_info=True)
    log.info(outcome)
    return outcome


def _warm_up(
    source: ManagerSource,
    spec: ModelSpec | None,
    cancel: Cancelled | None,
    on_event: EventCallback | None,
) -> str:
    if cancel is not None and cancel.cancelled:
        raise PassCancelled()
    preload_torch_library()
    models = source if isinstance(source, ModelManager) else source()
    import diffusers  # noqa: F401  (the import is the point: the first pass skips it)
    import torch  # noqa: F401

    if spec is None:
        return "warmed up: torch and diffusers imported"
    if cancel is not None and cancel.cancelled:
        raise PassCancelled()
    loaded = models.load(spec, on_event, cancel)
    if cancel is not None and cancel.cancelled:  # finished the last phase as it was cancelled
        return f"warmed up: {Path(spec.reference).name} (loaded as the warm-up was cancelled)"
    return f"warmed up: {loaded.name} (memory: {loaded.memory_mode})"


class WarmUp:
    """A warm-up running on a daemon thread: ``cancel()``, ``wait()``, ``outcome``."""

    def __init__(
        self,
        models: ManagerSource,
        spec: ModelSpec | None,
        on_done: Callable[[str], None] | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.outcome = ""
        self._on_done = on_done
        self._thread = threading.Thread(
            target=self._run, args=(models, spec, on_event), name="warm-up", daemon=True
        )

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop after the load phase in progress (from any thread); the model is not kept."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> str:
        """The outcome once the warm-up is over ("" if still running after ``timeout`` s)."""
        self._done.wait(timeout)
        return self.outcome

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _run(
        self, models: ManagerSource, spec: ModelSpec | None, on_event: EventCallback | None
    ) -> None:
        run_in_background()  # the GUI thread gets a core first (core/threads.py)
        try:
            self.outcome = warm_up(models, spec, self, on_event)
            if self._on_done is not None:
                try:
                    self._on_done(self.outcome)
                except Exception:  # the caller's callback must not kill the thread noisily
                    log.exception("warm-up callback failed")
        finally:
            self._done.set()


def start_warm_up(
    models: ManagerSource,
    spec: ModelSpec | None = None,
    on_done: Callable[[str], None] | None = None,
    on_event: EventCallback | None = None,
) -> WarmUp:
    """Start :func:`warm_up` on a background thread; ``on_done(outcome)`` runs on that thread."""
    handle = WarmUp(models, spec, on_done, on_event)
    handle._thread.start()
    return handle
