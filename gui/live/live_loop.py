"""The live loop's state machine: debounce the edits, run one pass, cancel and restart it.

Plain Python, no Qt and no clock of its own: the owner reports edits (``input_changed``), the
debounce timer (``timer_elapsed``) and the end of each pass (``pass_ended``), and the loop calls
back to start a pass, cancel the running one and arm the timer. Tests drive it by hand with an
injected clock.

At most one pass runs at a time and none is ever queued behind another: an edit while a pass
runs cancels it at once, and the pass for the newest input starts when the running one has
ended and the debounce has elapsed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

DEBOUNCE_S = 0.15


class LiveState(Enum):
    IDLE = "idle"  # nothing running; maybe an edit waiting for its debounce
    RUNNING = "running"  # a pass for the newest input runs
    CANCELLING = "cancelling"  # the input changed: the running pass was told to stop


@dataclass
class LiveCounts:
    """What the loop has done (for tests, the benchmark and the view)."""

    started: int = 0
    finished: int = 0  # passes whose result was for the newest input
    stale_finished: int = 0  # passes that finished although the input had changed meanwhile
    cancelled: int = 0
    failed: int = 0


@dataclass
class LiveLoop:
    """Debounce and cancel-restart. ``start_pass()`` submits a pass from the newest input and
    returns False when none can start (no picture, no model); ``cancel_pass()`` stops the
    running one; ``arm_timer(seconds)`` asks for ``timer_elapsed`` after that long."""

    start_pass: Callable[[], bool]
    cancel_pass: Callable[[], None]
    arm_timer: Callable[[float], None]
    debounce_s: float = DEBOUNCE_S
    clock: Callable[[], float] = time.monotonic
    enabled: bool = False
    state: LiveState = LiveState.IDLE
    counts: LiveCounts = field(default_factory=LiveCounts)
    pending: bool = False  # an edit not yet rendered by any started pass
    due: float = 0.0  # when the pending edit's debounce has elapsed
    last_edit: float = 0.0  # when the newest input arrived (for the edit → result latency)
    running_edit: float = 0.0  # the ``last_edit`` of the running pass's input

    # -- the owner reports ------------------------------------------------------------------------
    def set_enabled(self, enabled: bool) -> None:
        """Turn live mode on (the current input is rendered after the debounce) or off (a
        running pass is cancelled, a pending edit forgotten)."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        if enabled:
            self.input_changed()
            return
        self.pending = False
        if self.state is LiveState.RUNNING:
            self.state = LiveState.CANCELLING
            self.cancel_pass()

    def input_changed(self) -> None:
        """The canvas or a parameter changed: render the newest input after the debounce."""
        if not self.enabled:
            return
        now = self.clock()
        self.pending, self.due, self.last_edit = True, now + self.debounce_s, now
        if self.state is LiveState.RUNNING:
            self.state = LiveState.CANCELLING
            self.cancel_pass()
        self.arm_timer(self.debounce_s)

    def timer_elapsed(self) -> None:
        """The debounce timer fired: start the pending pass unless one is still ending."""
        if not (self.enabled and self.pending) or self.state is not LiveState.IDLE:
            return
        remaining = self.due - self.clock()
        if remaining > 1e-3:  # a later edit moved the deadline
            self.arm_timer(remaining)
            return
        self._start()

    def pass_ended(self, outcome: str) -> bool:
        """The running pass ended: ``outcome`` is "finished", "cancelled" or "failed". Returns
        whether a finished pass's result is for the newest input (show it) or stale (drop it)."""
        current = self.state is LiveState.RUNNING
        self.state = LiveState.IDLE
        if outcome == "finished":
            if current:
                self.counts.finished += 1
            else:
                self.counts.stale_finished += 1
        elif outcome == "cancelled":
            self.counts.cancelled += 1
        else:
            self.counts.failed += 1
        if self.enabled and self.pending:
            self.timer_elapsed()  # starts now if the debounce has already elapsed
        return current and outcome == "finished"

    # -- questions ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A pass runs (or is ending) or an edit waits to be rendered."""
        return self.state is not LiveState.IDLE or (self.enabled and self.pending)

    def latency(self) -> float:
        """Seconds from the edit the running (or last) pass rendered until now."""
        return self.clock() - self.running_edit

    def _start(self) -> None:
        self.pending = False
        if self.start_pass():
            self.state = LiveState.RUNNING
            self.running_edit = self.last_edit
            self.counts.started += 1
