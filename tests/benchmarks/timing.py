"""What every benchmark here shares: alternating timed runs, the GUI thread's tick recorder,
waiting on the real window, and writing the JSON report."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TICK_MS = 16


def seconds(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> float:
    """Wall seconds of one call (``sync`` before and after: CUDA's queue drained)."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start


def alternate(
    variants: dict[str, Callable[[], Any]],
    rounds: int,
    sync: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median seconds per variant, variants interleaved round by round after one warm-up each,
    so the machine's noise hits them all alike."""
    for fn in variants.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(seconds(fn, sync))
    return {name: statistics.median(values) for name, values in samples.items()}


class TickRecorder:
    """A 16 ms QTimer on the GUI thread, with the GUI thread's CPU time at each tick."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.cpu: list[float] = []  # the GUI thread's CPU time at each tick
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    def start(self) -> None:
        self.ticks.clear()
        self.cpu.clear()
        self._tick()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._tick()

    def longest_gaps(self, count: int = 5) -> list[tuple[float, float, float]]:
        """(start, length, GUI-thread CPU seconds) of the ``count`` longest gaps."""
        gaps = [
            (self.ticks[i], self.ticks[i + 1] - self.ticks[i], self.cpu[i + 1] - self.cpu[i])
            for i in range(len(self.ticks) - 1)
        ]
        return sorted(gaps, key=lambda gap: -gap[1])[:count]

    def longest_gap(self) -> float:
        gaps = self.longest_gaps(1)
        return gaps[0][1] if gaps else 0.0


def wait_until(app: Any, done: Callable[[], bool], timeout: float = 600.0) -> None:
    """Run the window's events until ``done()`` (TimeoutError after ``timeout`` s)."""
    deadline = time.perf_counter() + timeout
    while not done():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")


def write_report(report: dict[str, Any], out: str | Path) -> None:
    """Write ``report`` as JSON to ``out`` (folders made) and print it."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
